"""Re-create ``maps/static/`` from the npm registry (maintainers only; never run at run time).

The files under ``maps/static`` are committed. This script documents, and repeats, how
they were made: every third-party file comes from a package fetched with ``npm pack``
(so from the configured npm registry, never from a CDN), plus Leaflet.heat as patched and
shipped inside the ``folium`` wheel, which is exactly what ``folium.plugins.HeatMap``
points at. Source maps are left out and ``sourceMappingURL`` comments are removed, so a
browser never asks for a missing file. Fonts are kept as WOFF2 (and WOFF for the
glyphicons) only, and the CSS that names them is rewritten to match.

Run ``python -m maps.vendor_assets`` from the repository root, then review the diff.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"

#: (npm spec, static sub-directory, [(file in package, file in sub-directory)], licence files
#: (a name, or (file in package, file in sub-directory)))
PACKAGES = [
    ("leaflet@1.9.4", "leaflet", [
        ("dist/leaflet.js", "leaflet.js"), ("dist/leaflet.css", "leaflet.css"),
        ("dist/images/layers.png", "images/layers.png"),
        ("dist/images/layers-2x.png", "images/layers-2x.png"),
        ("dist/images/marker-icon.png", "images/marker-icon.png"),
        ("dist/images/marker-icon-2x.png", "images/marker-icon-2x.png"),
        ("dist/images/marker-shadow.png", "images/marker-shadow.png"),
    ], ["LICENSE"]),
    ("leaflet.markercluster@1.5.3", "leaflet.markercluster", [
        ("dist/leaflet.markercluster.js", "leaflet.markercluster.js"),
        ("dist/MarkerCluster.css", "MarkerCluster.css"),
        ("dist/MarkerCluster.Default.css", "MarkerCluster.Default.css"),
    ], ["MIT-LICENCE.txt"]),
    ("leaflet.heat@0.2.0", "leaflet.heat", [], ["LICENSE"]),
    ("jquery@3.7.1", "jquery", [("dist/jquery.min.js", "jquery.min.js")], ["LICENSE.txt"]),
    ("bootstrap@5.2.2", "bootstrap", [
        ("dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"),
        ("dist/css/bootstrap.min.css", "bootstrap.min.css"),
    ], ["LICENSE"]),
    ("bootstrap@3.4.1", "glyphicons", [
        ("dist/fonts/glyphicons-halflings-regular.woff2", "fonts/glyphicons-halflings-regular.woff2"),
        ("dist/fonts/glyphicons-halflings-regular.woff", "fonts/glyphicons-halflings-regular.woff"),
    ], ["LICENSE"]),
    ("@fortawesome/fontawesome-free@6.2.0", "fontawesome", [
        ("css/all.min.css", "css/all.min.css"),
        ("webfonts/fa-brands-400.woff2", "webfonts/fa-brands-400.woff2"),
        ("webfonts/fa-regular-400.woff2", "webfonts/fa-regular-400.woff2"),
        ("webfonts/fa-solid-900.woff2", "webfonts/fa-solid-900.woff2"),
        ("webfonts/fa-v4compatibility.woff2", "webfonts/fa-v4compatibility.woff2"),
    ], ["LICENSE.txt"]),
    ("leaflet.awesome-markers@2.0.5", "leaflet.awesome-markers", [
        ("dist/leaflet.awesome-markers.js", "leaflet.awesome-markers.js"),
        ("dist/leaflet.awesome-markers.css", "leaflet.awesome-markers.css"),
        ("dist/images/markers-soft.png", "images/markers-soft.png"),
        ("dist/images/markers-soft@2x.png", "images/markers-soft@2x.png"),
        ("dist/images/markers-shadow.png", "images/markers-shadow.png"),
        ("dist/images/markers-shadow@2x.png", "images/markers-shadow@2x.png"),
    ], ["LICENSE"]),
    ("leaflet-search@2.9.7", "leaflet-search", [
        ("dist/leaflet-search.min.js", "leaflet-search.min.js"),
        ("dist/leaflet-search.min.css", "leaflet-search.min.css"),
        ("images/search-icon.png", "images/search-icon.png"),
        ("images/loader.gif", "images/loader.gif"),
    ], ["license.txt"]),
    ("leaflet.fullscreen@3.0.0", "leaflet.fullscreen", [
        ("Control.FullScreen.js", "Control.FullScreen.js"),
        ("Control.FullScreen.css", "Control.FullScreen.css"),
        ("icon-fullscreen.svg", "icon-fullscreen.svg"),
    ], ["LICENSE"]),
    # the UMD bundle of supercluster has kdbush 4.0.2 built in (identical source): both licences
    ("supercluster@8.0.1", "supercluster", [("dist/supercluster.min.js", "supercluster.min.js")], ["LICENSE"]),
    ("kdbush@4.0.2", "supercluster", [], [("LICENSE", "LICENSE-kdbush")]),
]

#: licences stated by the licence files where ``package.json`` is silent or says otherwise
LICENCE_NOTES = {
    "leaflet.heat": "BSD-2-Clause (LICENSE)",
    "leaflet.awesome-markers": "MIT (LICENSE; package.json says ISC)",
    "leaflet.fullscreen": "MIT",
    "kdbush": "ISC (LICENSE-kdbush)",
}

_MAP_COMMENT = re.compile(r"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$")


def _clean(dest: Path) -> None:
    if dest.suffix in {".js", ".css"}:
        text = dest.read_text(encoding="utf-8")
        dest.write_text(_MAP_COMMENT.sub("", text).rstrip("\n") + "\n", encoding="utf-8")


def _pack(spec: str, work: Path) -> tuple[Path, dict]:
    out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(work)],
                         check=True, capture_output=True, text=True, cwd=work)
    info = json.loads(out.stdout)[0]
    root = work / ("x_" + info["filename"])
    with tarfile.open(work / info["filename"]) as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and not m.name.startswith("/") and ".." not in Path(m.name).parts]
        tar.extractall(root, members=members)  # noqa: S202 - regular files, checked paths
    pkg = root / "package"
    meta = json.loads((pkg / "package.json").read_text(encoding="utf-8"))
    return pkg, {"integrity": info.get("integrity", ""), "meta": meta, "tarball": info["filename"]}


def _glyphicons_css(pkg: Path) -> str:
    css = (pkg / "dist/css/bootstrap.css").read_text(encoding="utf-8")
    banner = css[: css.index("*/") + 2]
    start = css.index("@font-face")
    end = css.index("}", css.index(".glyphicon-menu-up:before")) + 1
    body = css[start:end]
    body = re.sub(r"@font-face \{.*?\n\}", (
        '@font-face {\n  font-family: "Glyphicons Halflings";\n'
        '  src: url("fonts/glyphicons-halflings-regular.woff2") format("woff2"), '
        'url("fonts/glyphicons-halflings-regular.woff") format("woff");\n}'), body, count=1, flags=re.S)
    return (banner + "\n/* Glyphicons only, extracted from bootstrap@3.4.1 dist/css/bootstrap.css "
            "(WOFF2/WOFF fonts). */\n" + body + "\n")


def _fontawesome_css(text: str) -> str:
    # keep only the woff2 sources: `src:url(a.woff2) format("woff2"),url(a.ttf) format("truetype")`
    return re.sub(r',url\(\.\./webfonts/[^)]+\.ttf\) format\("truetype"\)', "", text)


def _rotate_css() -> str:
    rules = "".join(
        f".fa-rotate-{d}{{-ms-transform:rotate({d}deg);-webkit-transform:rotate({d}deg);"
        f"transform:rotate({d}deg)}}" for d in range(360))
    return ("/* Equivalent of folium's templates/leaflet.awesome.rotate.css (MIT, "
            "python-visualization/folium), generated. */\n" + rules + "\n")


def _folium_files(rows: list[dict]) -> None:
    import folium

    root = Path(folium.__file__).resolve().parent
    lic = next(root.parent.glob(f"folium-{folium.__version__}.dist-info/licenses/LICENSE*"), None)
    heat = STATIC / "leaflet.heat"
    shutil.copyfile(root / "templates/leaflet_heat.min.js", heat / "leaflet-heat.js")
    fol = STATIC / "folium"
    fol.mkdir(parents=True, exist_ok=True)
    (fol / "leaflet.awesome.rotate.min.css").write_text(_rotate_css(), encoding="utf-8")
    if lic is not None:
        shutil.copyfile(lic, fol / "LICENSE.txt")
    rows.append({"name": "folium (rotate CSS)", "version": folium.__version__, "licence": "MIT",
                 "source": f"PyPI folium {folium.__version__} (generated equivalent)", "dir": "folium"})
    for row in rows:
        if row["dir"] == "leaflet.heat":
            row["source"] += (f"; leaflet-heat.js = folium {folium.__version__} wheel "
                              "templates/leaflet_heat.min.js (Leaflet.heat + weights patch PR #78)")


def vendor(static: Path = STATIC) -> list[dict]:
    """Fetch every package with ``npm pack`` and rebuild ``static`` (except ``yizhan/``).

    Returns
    -------
    list of dict
        One row per package: name, version, licence, source, dir.
    """
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made: set[str] = set()
        for spec, sub, files, licences in PACKAGES:
            pkg, info = _pack(spec, work)
            dest_dir = static / sub
            if sub not in made:  # a directory may hold two packages (supercluster + kdbush)
                if dest_dir.exists():
                    shutil.rmtree(dest_dir)
                dest_dir.mkdir(parents=True)
                made.add(sub)
            for src, dst in files:
                dest = dest_dir / dst
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(pkg / src, dest)
                _clean(dest)
            for lic in licences:
                src, dst = lic if isinstance(lic, tuple) else (lic, lic)
                shutil.copyfile(pkg / src, dest_dir / dst)
            if sub == "glyphicons":
                (dest_dir / "bootstrap-glyphicons.css").write_text(_glyphicons_css(pkg), encoding="utf-8")
            if sub == "fontawesome":
                css = dest_dir / "css/all.min.css"
                css.write_text(_fontawesome_css(css.read_text(encoding="utf-8")), encoding="utf-8")
            meta = info["meta"]
            licence = meta.get("license") or "; ".join(
                x.get("type", "") for x in meta.get("licenses", [])) or "see licence file"
            if isinstance(licence, dict):
                licence = licence.get("type", "")
            licence = LICENCE_NOTES.get(meta["name"], licence)
            rows.append({"name": meta["name"], "version": meta["version"], "licence": licence,
                         "source": f"npm {meta['name']}@{meta['version']} ({info['integrity']})",
                         "dir": sub})
        _folium_files(rows)
    write_manifest(rows, static)
    return rows


def write_manifest(rows: list[dict], static: Path = STATIC) -> None:
    """Write ``static/MANIFEST.md``: every package, and every file with size and SHA-256."""
    lines = ["# Vendored front-end assets", "",
             "Served by yizhan under `/static/…` and embedded by `maps.offline.localize(mode=\"inline\")`;",
             "no map ever loads them from a CDN. Re-create with `python -m maps.vendor_assets`.", "",
             "| package | version | licence | source | directory |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['version']} | {r['licence']} | {r['source']} | `{r['dir']}/` |")
    lines.append("| yizhan map helpers | (this repository) | MIT | written for yizhan | `yizhan/` |")
    lines += ["", "## Files", "", "Third-party files only (yizhan's own files live in `yizhan/`).", "",
              "| file | bytes | sha256 |", "|---|---:|---|"]
    total = 0
    for p in sorted(static.rglob("*")):
        if p.is_file() and p.name != "MANIFEST.md" and p.relative_to(static).parts[0] != "yizhan":
            data = p.read_bytes()
            total += len(data)
            lines.append(f"| `{p.relative_to(static).as_posix()}` | {len(data)} | "
                         f"{hashlib.sha256(data).hexdigest()[:16]}… |")
    lines += ["", f"Total: {total} bytes (about {total / 2**20:.1f} MiB).", ""]
    (static / "MANIFEST.md").write_text("\n".join(lines), encoding="utf-8")


def _rows_from_manifest(static: Path = STATIC) -> list[dict]:
    rows = []
    for line in (static / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[4].startswith("`") and cells[0] not in {"package", "yizhan map helpers"}:
            rows.append(dict(zip(["name", "version", "licence", "source", "dir"],
                                 cells[:4] + [cells[4].strip("`/")])))
    return rows


if __name__ == "__main__":  # pragma: no cover - maintainer tool
    if sys.argv[1:] == ["--manifest-only"]:
        write_manifest(_rows_from_manifest())
    else:
        for row in vendor():
            print(row["name"], row["version"], row["licence"])
