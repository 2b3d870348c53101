/* 驿站 finder: nearest stations for a worker's phone. Every text goes in with textContent. */
(function () {
  "use strict";
  var SERVICES = {water: "饮水", hot_meal: "热饭", charging: "充电", toilet: "如厕", rest: "休息",
    first_aid: "药箱", wifi: "无线网络", umbrella: "雨具", cooling: "防暑", heating: "取暖"};
  var LEVELS = {provincial_gov: "省政府级", provincial_union: "省总工会级", city_union: "市总工会级",
    district_union: "区总工会级", other: "其他"};
  var map = L.map("map", {zoomControl: true, maxZoom: 19, attributionControl: false}).setView([37.86, 112.57], 13);
  L.control.scale({imperial: false}).addTo(map);
  var here = null, hereMarker = null, layer = L.layerGroup().addTo(map), markers = {};
  var focused = false;  // a QR page: the map stays on its station, not the district
  var statusEl = document.getElementById("status"), list = document.getElementById("results");
  var noticeEl = document.getElementById("notice");
  window.yizhanFinder = {map: map, lastResults: [], markers: markers};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtDist(m) { return m < 1000 ? Math.round(m) + " 米" : (m / 1000).toFixed(1) + " 公里"; }
  function setStatus(t) { statusEl.textContent = t; }
  function setNotice(t) { noticeEl.textContent = t; noticeEl.hidden = !t; }

  fetch("/api/areas?level=street").then(function (r) { return r.json(); }).then(function (fc) {
    if (!fc.features || !fc.features.length) return;
    var g = L.geoJSON(fc, {style: {color: "#7b8794", weight: 1, fillColor: "#ffffff", fillOpacity: 0.6},
      interactive: false}).addTo(map);
    if (!here && !focused) map.fitBounds(g.getBounds());
  }).catch(function () {}).then(function () { window.yizhanFinder.areasShown = true; });

  function selected() {
    return Array.prototype.slice.call(document.querySelectorAll("#filters input[value]"))
      .filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
  }

  // opts.from: whose distance is shown ("you", "station" or none: no position, no distance);
  // opts.title: the line above the list; opts.center: keep the map on this point.
  function render(features, opts) {
    opts = opts || {from: "you"};
    layer.clearLayers(); list.textContent = ""; Object.keys(markers).forEach(function (k) { delete markers[k]; });
    window.yizhanFinder.lastResults = features.map(function (f) { return f.properties.id; });
    if (!features.length) { setStatus(opts.empty || "附近没有符合条件的站点。试试减少筛选条件。"); return; }
    setStatus(opts.title || "离你最近的 " + features.length + " 个站点：");
    var bounds = here ? [here] : [];
    features.forEach(function (f, i) {
      var p = f.properties, ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
      bounds.push(ll);
      var m = L.circleMarker(ll, {radius: 9, color: "#fff", weight: 2, fillColor: "#c8102e", fillOpacity: 1}).addTo(layer);
      var tip = el("span", null, (i + 1) + ". " + p.name);
      m.bindTooltip(tip, {direction: "top"});
      markers[p.id] = m;
      var li = el("li"); li.dataset.id = p.id;
      var head = el("div", "name"); head.appendChild(el("span", "rank", i + 1)); head.appendChild(el("span", null, p.name));
      li.appendChild(head);
      var meta = el("div", "meta");
      if (opts.from && p.distance_m !== undefined)
        meta.appendChild(el("span", "dist", (opts.from === "station" ? "距该站 " : "") + fmtDist(p.distance_m) + " · "));
      var open = p.open_now === true ? ["open", "开放中"] : p.open_now === false ? ["closed", "未开放"] : ["", "开放时间未知"];
      meta.appendChild(el("span", open[0], open[1]));
      if (p.opening_hours) meta.appendChild(el("span", null, "（" + p.opening_hours + "）"));
      li.appendChild(meta);
      var svc = (p.services || []).map(function (s) { return SERVICES[s] || s; }).join("、");
      li.appendChild(el("div", "meta", (LEVELS[p.level] ? LEVELS[p.level] + " · " : "") + (svc ? "服务：" + svc : "")));
      if (p.address) li.appendChild(el("div", "meta", p.address));
      if (p.links) {
        var nav = el("div", "nav");
        var a1 = el("a", null, "高德导航"); a1.href = p.links.amap; a1.target = "_blank"; a1.rel = "noopener";
        var a2 = el("a", null, "百度导航"); a2.href = p.links.baidu; a2.target = "_blank"; a2.rel = "noopener";
        nav.appendChild(a1); nav.appendChild(a2); li.appendChild(nav);
      }
      li.addEventListener("click", function () { highlight(p.id); });
      m.on("click", function () { highlight(p.id); });
      list.appendChild(li);
    });
    if (opts.center) map.setView(opts.center, 16);
    else if (bounds.length > 1) map.fitBounds(bounds, {padding: [30, 30], maxZoom: 17});
    else map.setView(bounds[0], 16);
  }

  function highlight(id) {
    Array.prototype.forEach.call(list.children, function (li) { li.classList.toggle("active", li.dataset.id == id); });
    Object.keys(markers).forEach(function (k) {
      markers[k].setStyle({fillColor: k == id ? "#f5a623" : "#c8102e"});
    });
  }

  function search() {
    if (!here) return;
    var q = new URLSearchParams({lon: here[1].toFixed(6), lat: here[0].toFixed(6), k: "5"});
    var s = selected(); if (s.length) q.set("services", s.join(","));
    if (document.getElementById("opennow").checked) q.set("open_at", "now");
    setStatus("正在查找…");
    fetch("/api/nearest?" + q.toString()).then(function (r) {
      return r.json().then(function (b) { if (!r.ok) throw new Error(typeof b.detail === "string" ? b.detail : "查询失败"); return b; });
    }).then(function (fc) { render(fc.features); }).catch(function (e) { setStatus("出错了：" + e.message); });
  }

  function setHere(lat, lon) {
    here = [lat, lon];
    if (hereMarker) hereMarker.setLatLng(here);
    else hereMarker = L.circleMarker(here, {radius: 7, color: "#0b5cad", fillColor: "#2d8cf0", fillOpacity: 1}).addTo(map)
      .bindTooltip(el("span", null, "我的位置"));
    search();
  }
  window.yizhanFinder.setHere = setHere;

  map.on("click", function (e) { setHere(e.latlng.lat, e.latlng.lng); });
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { setStatus("此浏览器不能定位，请在地图上点一下你的位置。"); return; }
    setStatus("正在定位…");
    navigator.geolocation.getCurrentPosition(function (pos) { setHere(pos.coords.latitude, pos.coords.longitude); },
      function () { setStatus("无法获取位置，请在地图上点一下你的位置。"); }, {enableHighAccuracy: true, timeout: 10000});
  });
  Array.prototype.forEach.call(document.querySelectorAll("#filters input"), function (i) { i.addEventListener("change", search); });

  // The QR code on a station's door: that station (no distance: nobody has said where they
  // stand), or, when it is not open, why and the nearest open stations from it.
  var NOT_OPEN = {closed: ["该站点已于", "撤销", "该站点已撤销"], suspended: ["该站点自", "起暂停开放", "该站点已暂停开放"],
    planned: ["该站点", "起在规划中，尚未开放", "该站点在规划中，尚未开放"],
    surveyed: ["该站点", "起在调研中，尚未开放", "该站点在调研中，尚未开放"],
    building: ["该站点", "起在建设中，尚未开放", "该站点在建设中，尚未开放"]};
  function notOpenText(p) {
    var t = NOT_OPEN[p.status];
    if (!t) return "该站点目前不开放（状态：" + p.status + (p.status_since ? "，" + p.status_since + "起" : "") + "）";
    return p.status_since ? t[0] + p.status_since + t[1] : t[2];
  }
  function getJSON(url) {
    return fetch(url).then(function (r) {
      return r.json().then(function (b) { return {ok: r.ok, code: r.status, body: b}; });
    });
  }
  function showSite(id) {
    focused = true;
    getJSON("/api/sites/" + encodeURIComponent(id)).then(function (res) {
      if (res.code === 404 || res.code === 422) {
        setNotice("找不到编号为 " + id + " 的站点，二维码或链接可能有误。");
        setStatus("点“定位我”，或在地图上点一下你的位置，查找附近的站点。");
        focused = false; return;
      }
      if (!res.ok) throw new Error(typeof res.body.detail === "string" ? res.body.detail : "查询失败");
      var f = res.body, p = f.properties, c = f.geometry.coordinates, ll = [c[1], c[0]];
      map.setView(ll, 16);
      return getJSON("/api/nearest?" + new URLSearchParams({lon: c[0], lat: c[1], k: "5"})).then(function (near) {
        if (!near.ok) throw new Error(typeof near.body.detail === "string" ? near.body.detail : "查询失败");
        if (p.status === "open") {
          var hit = near.body.features.filter(function (g) { return g.properties.id === p.id; });
          if (!hit.length) { p.links = null; hit = [f]; }
          render(hit, {from: null, title: "站点详情：", center: ll}); highlight(p.id);
          return;
        }
        setNotice(p.name + "：" + notOpenText(p) + "。");
        L.circleMarker(ll, {radius: 8, color: "#fff", weight: 2, fillColor: "#7b8794", fillOpacity: 1}).addTo(map)
          .bindTooltip(el("span", null, p.name + "（不开放）"));
        render(near.body.features, {from: "station", title: "离该站最近的开放站点：", center: ll,
          empty: "附近没有开放的站点。"});
      });
    }).catch(function (e) { setStatus("出错了：" + e.message); });
  }

  var params = new URLSearchParams(location.search);
  if (params.get("site")) {
    showSite(params.get("site"));
  } else if (params.get("lon") && params.get("lat")) {
    setHere(parseFloat(params.get("lat")), parseFloat(params.get("lon")));
  }
})();
