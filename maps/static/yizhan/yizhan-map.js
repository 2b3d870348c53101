/*!
 * yizhan 驿站 — map helpers for the coverage map (MIT licence, part of yizhan).
 * Loads nothing from the network. Every text value from the data is escaped with
 * YZ.esc before it is put into HTML; YZ.esc matches maps.safe.html_text in Python.
 */
(function (root) {
  'use strict';
  var YZ = root.YZ = root.YZ || {};

  var REFS = {
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    '`': '&#96;', '$': '&#36;', '\\': '&#92;', '{': '&#123;', '}': '&#125;'
  };

  /** HTML-escape a value (also inert inside a JS template literal). */
  YZ.esc = function (value) {
    if (value === null || value === undefined) return '';
    return String(YZ.text(value)).replace(/[&<>"'`$\\{}]/g, function (c) { return REFS[c]; });
  };

  /** Display text of a value: arrays joined with 、, missing values as ''. */
  YZ.text = function (value) {
    if (value === null || value === undefined) return '';
    if (Array.isArray(value)) return value.map(YZ.text).filter(Boolean).join('、');
    return String(value);
  };

  /** A CSS colour we generated ourselves; anything else becomes grey. */
  YZ.safeColor = function (c) {
    return (typeof c === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(c)) ? c : '#666666';
  };

  var jsonCache = {};
  /** Parse (once) the JSON held by <script type="application/json" id=...>. */
  YZ.json = function (id) {
    if (!jsonCache[id]) {
      var el = document.getElementById(id);
      jsonCache[id] = el ? JSON.parse(el.textContent) : null;
    }
    return jsonCache[id];
  };

  /** Value of column `col` for row `i` of compact site data (plain or dictionary-encoded). */
  YZ.val = function (d, col, i) {
    var c = col === 'name' ? d.name : d.cols[col];
    if (c === undefined || c === null) return null;
    if (Array.isArray(c)) return c[i];
    var k = c.i[i];
    return (k === undefined || k < 0) ? null : c.v[k];
  };

  /** Popup HTML of site i: its name and a table of the non-empty fields. */
  YZ.sitePopup = function (d, i) {
    var html = '<div class="yz-popup"><div class="yz-popup-title">' + YZ.esc(YZ.val(d, 'name', i)) +
      '</div><table>';
    for (var k = 0; k < d.fields.length; k++) {
      var v = YZ.text(YZ.val(d, d.fields[k][0], i));
      if (v === '') continue;
      html += '<tr><th>' + YZ.esc(d.fields[k][1]) + '</th><td>' + YZ.esc(v) + '</td></tr>';
    }
    return html + '</table></div>';
  };

  /** Tooltip HTML of site i: name · style label (level or stage). */
  YZ.siteTip = function (d, i) {
    var s = d.styles[d.style[i]];
    var t = YZ.esc(YZ.val(d, 'name', i));
    if (s && s.label) t += ' · ' + YZ.esc(s.label);
    if (!d.open[i] && d.statusCol) t += '（' + YZ.esc(YZ.val(d, d.statusCol, i)) + '）';
    return t;
  };

  function makeIcon(d, style, open) {
    var color = YZ.safeColor(style && style.color);
    var shape = /^[a-z]+$/.test(d.shape) ? d.shape : 'circle';
    return L.divIcon({
      className: 'yz-m yz-m-' + shape + (open ? '' : ' yz-hollow'),
      html: '<i style="background:' + color + ';border-color:' + color + '"></i>',
      iconSize: [14, 14], iconAnchor: [7, 7], popupAnchor: [0, -6], tooltipAnchor: [0, -6]
    });
  }

  /** Cluster icon: markercluster's colours by size, shaped like the kind's markers. */
  function clusterIcon(shape) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 'small' : n < 100 ? 'medium' : 'large';
      return new L.DivIcon({
        html: '<div><span>' + n + '</span></div>',
        className: 'marker-cluster marker-cluster-' + size + ' yz-cl-' + shape,
        iconSize: new L.Point(40, 40)
      });
    };
  }

  YZ.siteLayers = [];
  /** [label, milliseconds] of each step, for benchmarks. */
  YZ.timings = [];
  function now() { return (root.performance && root.performance.now) ? root.performance.now() : Date.now(); }

  /**
   * Fill a markerClusterGroup with the sites of one kind; returns the layer entry.
   * The group is put on the map first when `show` (Leaflet.markercluster clusters in
   * time-sliced chunks only on a map; off the map, adding is quadratic), otherwise it
   * is filled when first switched on.
   */
  YZ.addSiteLayer = function (map, cluster, dataId, show) {
    var t0 = now();
    var d = YZ.json(dataId);
    var t1 = now();
    var shape = /^[a-z]+$/.test(d.shape) ? d.shape : 'circle';
    cluster.options.iconCreateFunction = clusterIcon(shape);
    var icons = {};
    var markers = new Array(d.n);
    for (var i = 0; i < d.n; i++) {
      var key = d.style[i] * 2 + (d.open[i] ? 1 : 0);
      var icon = icons[key] || (icons[key] = makeIcon(d, d.styles[d.style[i]], d.open[i]));
      var m = L.marker([d.lat[i], d.lon[i]], {icon: icon, keyboard: false});
      m._yzIndex = i;
      markers[i] = m;
    }
    var t2 = now();
    var fill = function () {
      var t3 = now();
      cluster.addLayers(markers, true);  // no 'layeradd' event per marker
      YZ.timings.push(['cluster ' + d.kind, now() - t3]);
    };
    if (show) {
      map.addLayer(cluster);
      fill();
    } else {
      cluster.once('add', fill);
    }
    YZ.timings.push(['parse ' + d.kind, t1 - t0], ['markers ' + d.kind, t2 - t1]);
    var entry = {kind: d.kind, label: d.label, cluster: cluster, data: d, markers: markers, map: map};
    cluster.on('click', function (e) {
      var m = e.layer;
      if (m && m._yzIndex !== undefined && !m.getPopup()) YZ.openSite(entry, m._yzIndex);
    });
    cluster.on('mouseover', function (e) {
      var m = e.layer;
      if (m && m._yzIndex !== undefined && !m.getTooltip()) {
        m.bindTooltip(YZ.siteTip(d, m._yzIndex), {direction: 'top'});
        m.openTooltip();
      }
    });
    YZ.siteLayers.push(entry);
    return entry;
  };

  /** Open the popup of site i (its marker must be visible: see YZ.showSite). */
  YZ.openSite = function (entry, i) {
    var m = entry.markers[i];
    if (!m.getPopup()) m.bindPopup(YZ.sitePopup(entry.data, i), {maxWidth: 320});
    m.openPopup();
    return m;
  };

  /**
   * Make the marker of site i visible, then call `done(marker)`: switch its layer on,
   * centre the map on it at the first zoom where it leaves its clusters, or, for sites
   * sharing one spot, spiderfy their cluster at the last clustering zoom.
   */
  YZ.revealSite = function (entry, i, done) {
    var m = entry.markers[i], map = entry.map, cl = entry.cluster, tries = 0;
    if (!map.hasLayer(cl)) map.addLayer(cl);
    var p = m.__parent, clustered = p && p !== cl._topClusterLevel;
    var spider = clustered && p._zoom >= cl._maxZoom;
    var zoom = Math.round(map.getZoom());
    if (spider) zoom = cl._maxZoom;
    else if (clustered) zoom = Math.max(zoom, p._zoom + 1);
    if (cl._spiderfied && cl._spiderfied !== p) cl._noanimationUnspiderfy();
    map.setView(m.getLatLng(), zoom, {animate: false});
    (function wait() {
      if (m._icon && !cl._inZoomAnimation) { if (done) done(m); return; }
      if (spider && p._icon && !cl._inZoomAnimation && cl._spiderfied !== p) {
        cl.once('spiderfied', function () { if (done) done(m); });
        p.spiderfy();
        return;
      }
      if (++tries < 60) setTimeout(wait, 50);
    }());
  };

  /** Show site i: reveal its marker and open its popup (used by the search box). */
  YZ.showSite = function (entry, i) {
    YZ.revealSite(entry, i, function () { YZ.openSite(entry, i); });
  };

  /** Number of sites in the site layers' clusters (a layer never shown yet counts 0). */
  YZ.countSites = function () {
    return YZ.siteLayers.reduce(function (n, e) { return n + e.cluster.getLayers().length; }, 0);
  };

  /** True once every shown site layer has clustered all its markers. */
  YZ.sitesReady = function () {
    return YZ.siteLayers.every(function (e) {
      return !e.map.hasLayer(e.cluster) || e.cluster.getLayers().length === e.data.n;
    });
  };

  /** Circles of `radius` metres around open sites, built when the layer is first shown. */
  YZ.serviceCircles = function (group, radius, kinds, limit) {
    var filled = false;
    group.on('add', function () {
      if (filled) return;
      filled = true;
      var renderer = L.canvas({padding: 0.3});
      var count = 0;
      YZ.siteLayers.forEach(function (entry) {
        if (kinds && kinds.indexOf(entry.kind) < 0) return;
        var d = entry.data;
        for (var i = 0; i < d.n && count < limit; i++) {
          if (!d.open[i]) continue;
          L.circle([d.lat[i], d.lon[i]], {
            radius: radius, renderer: renderer, interactive: false,
            color: '#2b8cbe', weight: 1, opacity: 0.6, fillColor: '#74a9cf', fillOpacity: 0.12
          }).addTo(group);
          count++;
        }
      });
    });
    return group;
  };

  /**
   * Bind a GeoJSON feature's tooltip and popup. `_tip` and `_pop` are HTML built on the
   * server by maps.safe (every value escaped), never raw data.
   */
  YZ.bindFeature = function (feature, layer) {
    var p = (feature && feature.properties) || {};
    if (p._tip) layer.bindTooltip(p._tip, {sticky: true});
    if (p._pop) layer.bindPopup(p._pop, {maxWidth: 320});
  };

  /** Turn the element with this id (server-built, escaped HTML) into a map control. */
  YZ.domControl = function (map, id, position) {
    var el = document.getElementById(id);
    if (!el) return null;
    L.DomEvent.disableClickPropagation(el);
    L.DomEvent.disableScrollPropagation(el);
    if (position === 'topcenter') {
      el.classList.add('yz-topcenter');
      map.getContainer().appendChild(el);
      return el;
    }
    var Ctl = L.Control.extend({onAdd: function () { return el; }});
    return new Ctl({position: position}).addTo(map);
  };

  /** Search box over the names of every site layer. */
  YZ.searchControl = function (map, opts) {
    opts = opts || {};
    var max = opts.maxResults || 10;
    var Ctl = L.Control.extend({
      onAdd: function () {
        var box = L.DomUtil.create('div', 'yz-search leaflet-bar');
        var input = L.DomUtil.create('input', 'yz-search-input', box);
        input.type = 'search';
        input.placeholder = opts.placeholder || '';
        input.setAttribute('aria-label', opts.placeholder || 'search');
        var list = L.DomUtil.create('ul', 'yz-search-results', box);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var found = [];
        function clear() { while (list.firstChild) list.removeChild(list.firstChild); }
        function pick(hit) { clear(); YZ.showSite(hit[0], hit[1]); }
        function search() {
          var q = input.value.trim().toLowerCase();
          clear();
          found = [];
          if (!q) return;
          for (var e = 0; e < YZ.siteLayers.length && found.length < max; e++) {
            var entry = YZ.siteLayers[e], d = entry.data;
            for (var i = 0; i < d.n && found.length < max; i++) {
              var name = YZ.val(d, 'name', i);
              if (name !== null && String(name).toLowerCase().indexOf(q) >= 0) found.push([entry, i]);
            }
          }
          if (!found.length) {
            L.DomUtil.create('li', 'yz-search-none', list).textContent = '未找到匹配的站点';
            return;
          }
          found.forEach(function (hit) {
            var li = L.DomUtil.create('li', 'yz-search-hit', list);
            var street = YZ.val(hit[0].data, 'street', hit[1]);
            li.textContent = YZ.text(YZ.val(hit[0].data, 'name', hit[1])) +
              (street ? '（' + YZ.text(street) + '）' : '') + ' · ' + (hit[0].label || '');
            // stop the click here: the list item is removed at once, so the map could not
            // tell the click came from this control and would close the popup just opened
            L.DomEvent.on(li, 'click', function (ev) { L.DomEvent.stop(ev); pick(hit); });
          });
        }
        L.DomEvent.on(input, 'input', search);
        L.DomEvent.on(input, 'keydown', function (ev) {
          if (ev.key === 'Enter' && found.length) pick(found[0]);
          if (ev.key === 'Escape') { input.value = ''; clear(); }
        });
        return box;
      }
    });
    return new Ctl({position: opts.position || 'topleft'}).addTo(map);
  };
}(typeof window !== 'undefined' ? window : globalThis));
