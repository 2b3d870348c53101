/*!
 * yizhan 驿站 — the site layers of the coverage map (MIT licence, part of yizhan).
 *
 * One Leaflet layer per site kind over a Supercluster index (maps/static/supercluster):
 * only the clusters and sites of the current view are on the map, as DOM markers, so a
 * map of 200,000 sites is usable as soon as its data is parsed. A site's marker is made
 * the first time it is shown and kept; popups and tooltips are built on demand from the
 * column data (YZ.sitePopup / YZ.siteTip, every value escaped with YZ.esc). Clicking a
 * cluster zooms in until it splits, or, for sites that stay together to the last
 * clustering zoom (e.g. several stations in one building), spreads them out around it
 * ("spiderfy", as Leaflet.markercluster does). Needs yizhan-map.js, Leaflet and Supercluster.
 */
(function (root) {
  'use strict';
  var YZ = root.YZ = root.YZ || {};
  var L = root.L;
  YZ.siteLayers = YZ.siteLayers || [];
  YZ.timings = YZ.timings || [];

  function now() { return (root.performance && root.performance.now) ? root.performance.now() : Date.now(); }

  function shapeOf(s) { return /^[a-z]+$/.test(s) ? s : 'circle'; }

  function siteIcon(shape, style, open) {
    var color = YZ.safeColor(style && style.color);
    return L.divIcon({
      className: 'yz-m yz-m-' + shape + (open ? '' : ' yz-hollow'),
      html: '<i style="background:' + color + ';border-color:' + color + '"></i>',
      iconSize: [14, 14], iconAnchor: [7, 7], popupAnchor: [0, -6], tooltipAnchor: [0, -6]
    });
  }

  /** Cluster icon: Leaflet.markercluster's colours by size, shaped like the kind's markers. */
  function clusterIcon(shape, n) {
    n = +n;
    var size = n < 10 ? 'small' : n < 100 ? 'medium' : 'large';
    return L.divIcon({
      html: '<div><span>' + n + '</span></div>',
      className: 'marker-cluster marker-cluster-' + size + ' yz-cl-' + shape,
      iconSize: L.point(40, 40)
    });
  }

  /** Spider positions (layer points) around `c`: a circle up to 8 sites, else a spiral. */
  function spiderPoints(count, c) {
    var res = [], i, angle, leg;
    if (count < 9) {
      leg = Math.max(25 * (2 + count) / (2 * Math.PI), 35);
      for (i = 0; i < count; i++) {
        angle = i * 2 * Math.PI / count;
        res.push(L.point(c.x + leg * Math.cos(angle), c.y + leg * Math.sin(angle)).round());
      }
      return res;
    }
    leg = 11;
    angle = 0;
    for (i = count; i >= 0; i--) {
      if (i < count) res[i] = L.point(c.x + leg * Math.cos(angle), c.y + leg * Math.sin(angle)).round();
      angle += 28 / leg + i * 0.0005;
      leg += 5 * 2 * Math.PI / angle;
    }
    return res;
  }

  /**
   * The sites of one kind, clustered in the browser.
   *
   * `data` is decoded site data (YZ.decodeSites), `markerFor(i)` gives the marker of site
   * i. Options: `radius` (cluster radius in pixels, 80), `maxZoom` (last clustering zoom,
   * 16: from 17 on every site is shown), `padding` (part of the view added on each side,
   * 0.25), `shape` (of cluster icons). Events: `click` and `mouseover` of its markers (a
   * site's marker has `_yzIndex`), `spiderfied`, `unspiderfied`.
   */
  YZ.SiteCluster = L.Layer.extend({
    options: {radius: 80, maxZoom: 16, padding: 0.25, shape: 'circle'},

    initialize: function (data, markerFor, options) {
      L.setOptions(this, options);
      this._data = data;
      this._markerFor = markerFor;
      this._index = null;
      this._shown = {};
      this._spider = null;
      this._zoom = null;
      this._group = L.featureGroup();
      this._group.addEventParent(this);
      this._legs = L.layerGroup();
      this.on('click', this._onClick, this);
    },

    onAdd: function (map) {
      if (!this._index) this._build();
      this._group.addTo(map);
      this._legs.addTo(map);
      map.on('moveend', this._render, this);
      map.on('zoomstart click', this.unspiderfy, this);
      this._render();
    },

    onRemove: function (map) {
      this.unspiderfy();
      map.off('moveend', this._render, this);
      map.off('zoomstart click', this.unspiderfy, this);
      this._group.clearLayers();
      map.removeLayer(this._group);
      map.removeLayer(this._legs);
      this._shown = {};
      this._zoom = null;
    },

    _build: function () {
      var d = this._data, n = d.n, pts = new Array(n), t0 = now();
      for (var i = 0; i < n; i++) pts[i] = {geometry: {coordinates: [d.lon[i], d.lat[i]]}, i: i};
      // extent 256 = Leaflet's tile size, so `radius` is in screen pixels
      this._index = new root.Supercluster({
        radius: this.options.radius, extent: 256, minZoom: 0, maxZoom: this.options.maxZoom
      }).load(pts);
      YZ.timings.push(['index ' + d.kind, now() - t0]);
    },

    /** Show the clusters and sites of the current view; keep markers that stay. */
    _render: function () {
      var map = this._map;
      if (!map || !this._index) return;
      var z = Math.round(map.getZoom()), b = map.getBounds().pad(this.options.padding);
      var west = b.getWest(), east = b.getEast();
      if (east - west >= 360) { west = -180; east = 180; }
      var feats = this._index.getClusters([west, b.getSouth(), east, b.getNorth()], z);
      var next = {}, add = [], key, k, f, m;
      for (k = 0; k < feats.length; k++) {
        f = feats[k];
        key = (f.properties && f.properties.cluster) ? 'c' + f.properties.cluster_id : 'p' + f.i;
        m = this._shown[key];
        if (!m) {
          m = key.charAt(0) === 'c' ? this._clusterMarker(f) : this._markerFor(f.i);
          add.push(m);
        }
        next[key] = m;
      }
      for (key in this._shown) if (!(key in next)) this._group.removeLayer(this._shown[key]);
      this._shown = next;
      for (k = 0; k < add.length; k++) this._group.addLayer(add[k]);
      if (this._spider && !(('c' + this._spider.id) in next)) this.unspiderfy();
      this._zoom = z;
    },

    _clusterMarker: function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      var m = L.marker([c[1], c[0]], {icon: clusterIcon(this.options.shape, p.point_count), keyboard: false});
      m._yzCluster = {id: p.cluster_id, count: p.point_count};
      return m;
    },

    _onClick: function (e) {
      var m = e.layer, c = m && m._yzCluster;
      if (!c || !this._map) return;
      var zoom = this._index.getClusterExpansionZoom(c.id);
      if (zoom > this.options.maxZoom) this.spiderfy(m);
      else this._map.setView(m.getLatLng(), zoom);
    },

    /** True once the current view is drawn (no zoom under way). */
    ready: function () {
      var map = this._map;
      return !!(map && this._index && !map._animatingZoom && this._zoom === Math.round(map.getZoom()));
    },

    /** Number of sites in all clusters and single markers at the current zoom (0 if never shown). */
    count: function () {
      if (!this._index) return 0;
      var z = this._map ? Math.round(this._map.getZoom()) : 0;
      var all = this._index.getClusters([-180, -90, 180, 90], z), n = 0;
      for (var k = 0; k < all.length; k++) {
        n += (all[k].properties && all[k].properties.cluster) ? all[k].properties.point_count : 1;
      }
      return n;
    },

    /** The marker shown for cluster `id` at the current view, or null. */
    clusterMarker: function (id) { return this._shown['c' + id] || null; },

    /** Id of the cluster spread out now, or null. */
    spiderfied: function () { return this._spider ? this._spider.id : null; },

    /**
     * Where site i can be seen from zoom `from` on: the first zoom at which it is not in
     * a cluster, or, if it stays clustered to `maxZoom`, that zoom and its cluster's id
     * (to spiderfy).
     */
    locate: function (i, from) {
      var d = this._data, x = d.lon[i], y = d.lat[i], max = this.options.maxZoom, z, k, fs;
      var e = 1e-4;  // the index keeps float32 coordinates: look a little around the site
      if (from > max) return {zoom: from, cluster: null};
      for (z = Math.max(0, from); z <= max; z++) {
        fs = this._index.getClusters([x - e, y - e, x + e, y + e], z);
        for (k = 0; k < fs.length; k++) if (!(fs[k].properties && fs[k].properties.cluster) && fs[k].i === i) {
          return {zoom: z, cluster: null};
        }
      }
      e = 2.5 * this.options.radius * 360 / (256 * Math.pow(2, max));
      fs = this._index.getClusters([x - e, y - e, x + e, y + e], max);
      for (k = 0; k < fs.length; k++) {
        if (!(fs[k].properties && fs[k].properties.cluster)) continue;
        var leaves = this._index.getLeaves(fs[k].properties.cluster_id, Infinity);
        for (var j = 0; j < leaves.length; j++) {
          if (leaves[j].i === i) return {zoom: max, cluster: fs[k].properties.cluster_id};
        }
      }
      return {zoom: max + 1, cluster: null};
    },

    /** Spread the sites of a cluster marker around it, with legs to its centre. */
    spiderfy: function (cm) {
      var map = this._map, c = cm && cm._yzCluster;
      if (!map || !c || (this._spider && this._spider.id === c.id)) return;
      this.unspiderfy();
      var leaves = this._index.getLeaves(c.id, Infinity), centre = cm.getLatLng();
      var pts = spiderPoints(leaves.length, map.latLngToLayerPoint(centre));
      var sp = {id: c.id, marker: cm, markers: []};
      for (var k = 0; k < leaves.length; k++) {
        var m = this._markerFor(leaves[k].i), at = map.layerPointToLatLng(pts[k]);
        m._yzHome = m.getLatLng();
        m.setLatLng(at);
        this._legs.addLayer(L.polyline([centre, at], {
          color: '#222', weight: 1.5, opacity: 0.5, interactive: false, className: 'leaflet-cluster-spider-leg'
        }));
        this._group.addLayer(m);
        sp.markers.push(m);
      }
      cm.setOpacity(0.3);
      this._spider = sp;
      this.fire('spiderfied', {cluster: cm, markers: sp.markers});
    },

    /** Put spread-out sites back into their cluster. */
    unspiderfy: function () {
      var sp = this._spider;
      if (!sp) return;
      this._spider = null;
      this._legs.clearLayers();
      for (var k = 0; k < sp.markers.length; k++) {
        var m = sp.markers[k];
        this._group.removeLayer(m);
        m.setLatLng(m._yzHome);
        delete m._yzHome;
      }
      sp.marker.setOpacity(1);
      this.fire('unspiderfied', {cluster: sp.marker});
    }
  });

  /**
   * Make the layer of the sites held by <script type="application/json" id=dataId> (see
   * maps.site_data) and put it on the map when `show` (otherwise it is indexed when first
   * switched on). Returns the entry {kind, label, cluster, data, markers, markerFor, map}.
   */
  YZ.addSiteLayer = function (map, dataId, show, options) {
    var t0 = now();
    var d = YZ.decodeSites(YZ.json(dataId));
    var t1 = now();
    var shape = shapeOf(d.shape), icons = {}, markers = new Array(d.n);
    function markerFor(i) {
      var m = markers[i];
      if (m) return m;
      var key = d.style[i] * 2 + (d.open[i] ? 1 : 0);
      var icon = icons[key] || (icons[key] = siteIcon(shape, d.styles[d.style[i]], d.open[i]));
      m = markers[i] = L.marker([d.lat[i], d.lon[i]], {icon: icon, keyboard: false});
      m._yzIndex = i;
      return m;
    }
    var layer = new YZ.SiteCluster(d, markerFor, L.extend({}, options, {shape: shape}));
    var entry = {kind: d.kind, label: d.label, cluster: layer, data: d, markers: markers,
                 markerFor: markerFor, map: map};
    layer.on('click', function (e) {
      var m = e.layer;
      if (m && m._yzIndex !== undefined && !m.getPopup()) YZ.openSite(entry, m._yzIndex);
    });
    layer.on('mouseover', function (e) {
      var m = e.layer;
      if (m && m._yzIndex !== undefined && !m.getTooltip()) {
        m.bindTooltip(YZ.siteTip(d, m._yzIndex), {direction: 'top'});
        m.openTooltip();
      }
    });
    YZ.siteLayers.push(entry);
    if (show) map.addLayer(layer);
    YZ.timings.push(['parse ' + d.kind, t1 - t0], ['layer ' + d.kind, now() - t1]);
    return entry;
  };

  /** Open the popup of site i (its marker must be on the map: see YZ.revealSite). */
  YZ.openSite = function (entry, i) {
    var m = entry.markerFor(i);
    if (!m.getPopup()) m.bindPopup(YZ.sitePopup(entry.data, i), {maxWidth: 320});
    m.openPopup();
    return m;
  };

  /**
   * Make the marker of site i visible, then call `done(marker)`: switch its layer on,
   * centre the map on it at the first zoom where it leaves its clusters, or, for sites
   * that stay together, spiderfy their cluster at the last clustering zoom.
   */
  YZ.revealSite = function (entry, i, done) {
    var map = entry.map, layer = entry.cluster;
    if (!map.hasLayer(layer)) map.addLayer(layer);
    layer.unspiderfy();
    var spot = layer.locate(i, Math.round(map.getZoom()));
    var m = entry.markerFor(i);
    map.setView(m.getLatLng(), spot.zoom, {animate: false});  // draws the view at once
    if (spot.cluster !== null) layer.spiderfy(layer.clusterMarker(spot.cluster));
    if (done) done(m);
  };

  /** Show site i: reveal its marker and open its popup (used by the search box). */
  YZ.showSite = function (entry, i) {
    YZ.revealSite(entry, i, function () { YZ.openSite(entry, i); });
  };

  /** Number of sites in the site layers' clusters and markers (a layer never shown counts 0). */
  YZ.countSites = function () {
    return YZ.siteLayers.reduce(function (n, e) { return n + e.cluster.count(); }, 0);
  };

  /** True once every shown site layer is indexed and its current view drawn. */
  YZ.sitesReady = function () {
    return YZ.siteLayers.every(function (e) { return !e.map.hasLayer(e.cluster) || e.cluster.ready(); });
  };
}(typeof window !== 'undefined' ? window : globalThis));
