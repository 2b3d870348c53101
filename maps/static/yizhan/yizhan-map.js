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

  /** Site layer entries ({kind, label, cluster, data, markers, map}): see yizhan-sites.js. */
  YZ.siteLayers = YZ.siteLayers || [];
  /** [label, milliseconds] of each step, for benchmarks. */
  YZ.timings = YZ.timings || [];

  var jsonCache = {};
  /** Parse (once) the JSON held by <script type="application/json" id=...>. */
  YZ.json = function (id) {
    if (!jsonCache[id]) {
      var el = document.getElementById(id);
      jsonCache[id] = el ? JSON.parse(el.textContent) : null;
    }
    return jsonCache[id];
  };

  /** Value of column `col` for row `i` of site data (plain list, one value, or dictionary-encoded). */
  YZ.val = function (d, col, i) {
    var c = col === 'name' ? d.name : d.cols[col];
    if (c === undefined || c === null) return null;
    if (Array.isArray(c)) return c[i] === undefined ? null : c[i];
    if ('c' in c) return c.c;
    var k = c.i[i];
    return (k === undefined || k < 0) ? null : c.v[k];
  };

  /** The 81 digits of maps.site_data.pack_ints: '(' to '~' without \ < > { } and backtick. */
  var DIGIT = new Int8Array(128).fill(-1), BASE = 0;
  for (var c = 0x28; c < 0x7f; c++) if ('\\<>{}`'.indexOf(String.fromCharCode(c)) < 0) DIGIT[c] = BASE++;

  /**
   * Unpack {o, w, s[, d]} written by maps.site_data.pack_ints: an Int32Array of small
   * integers (codes), else a Float64Array (coordinates: decimals `d`).
   */
  YZ.unpack = function (p) {
    var w = p.w, s = p.s, n = s.length / w, o = p.o, j = 0;
    var small = !p.d && Math.abs(o) + Math.pow(BASE, w) < 2147483648;
    var out = small ? new Int32Array(n) : new Float64Array(n), scale = p.d ? Math.pow(10, p.d) : 1;
    for (var i = 0; i < n; i++) {
      var v = 0;
      for (var e = j + w; j < e; j++) v = v * BASE + DIGIT[s.charCodeAt(j)];
      out[i] = (o + v) / scale;
    }
    return out;
  };

  /** Unpack (once, in place) the packed columns of site data from maps.site_data.site_payload. */
  YZ.decodeSites = function (d) {
    if (d.decoded) return d;
    if (d.v !== 2) throw new Error('unknown site data version ' + d.v);
    ['lon', 'lat', 'style', 'open'].forEach(function (k) { d[k] = YZ.unpack(d[k]); });
    var cols = [d.name];
    for (var k in d.cols) if (Object.prototype.hasOwnProperty.call(d.cols, k)) cols.push(d.cols[k]);
    cols.forEach(function (c) { if (c && c.i && typeof c.i.s === 'string') c.i = YZ.unpack(c.i); });
    d.decoded = true;
    return d;
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
