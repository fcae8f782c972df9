/* gongzhi console: toasts, the phone menu, maps (Leaflet, no tile server needed), small form helpers.
   Pages work without it; htmx (hx-boost) makes links and forms partial page loads. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var LEAFLET = [
    "/static/vendor/leaflet/leaflet.css",
    "/static/vendor/markercluster/MarkerCluster.css",
    "/static/vendor/markercluster/MarkerCluster.Default.css",
    "/static/vendor/leaflet/leaflet.js",
    "/static/vendor/markercluster/leaflet.markercluster.js"
  ];
  var leafletReady = null;

  function load(url) {
    return new Promise(function (resolve, reject) {
      var el;
      if (url.slice(-4) === ".css") {
        el = document.createElement("link");
        el.rel = "stylesheet";
        el.href = url;
      } else {
        el = document.createElement("script");
        el.src = url;
        el.async = false;
      }
      el.onload = resolve;
      el.onerror = reject;
      document.head.appendChild(el);
    });
  }

  function withLeaflet() {
    if (!leafletReady) {
      leafletReady = Promise.all(LEAFLET.slice(0, 3).map(load))
        .then(function () { return load(LEAFLET[3]); })
        .then(function () { return load(LEAFLET[4]); });
    }
    return leafletReady;
  }

  function esc(text) {
    var d = document.createElement("div");
    d.textContent = text == null ? "" : String(text);
    return d.innerHTML;
  }

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function drawMap(el) {
    if (el.dataset.ready) return;
    el.dataset.ready = "1";
    var source = document.getElementById(el.dataset.map);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    withLeaflet().then(function () {
      var L = window.L;
      var tiles = document.body.dataset.tiles || "";
      var map = L.map(el, { attributionControl: !!tiles, zoomControl: false, scrollWheelZoom: false, preferCanvas: true, minZoom: 3, maxZoom: 18, zoomSnap: 0.25 });
      var words = document.body.dataset;  // the zoom buttons' tooltips, in the page's language
      L.control.zoom({ zoomInTitle: words.zoomIn || "Zoom in", zoomOutTitle: words.zoomOut || "Zoom out" }).addTo(map);
      if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: document.body.dataset.tilesAttribution || "" }).addTo(map);
      var legend = data.legend || {};
      var accent = css("--accent"), danger = css("--danger"), warn = css("--warn"), border = css("--border");
      var cells = L.geoJSON(
        { type: "FeatureCollection", features: data.features.filter(function (f) { return f.properties.kind === "cell"; }) },
        {
          style: function (f) {
            var busy = (f.properties.cases || 0) + (f.properties.alerts || 0);
            return { color: busy ? warn : border, weight: busy ? 2 : 1, fillColor: warn, fillOpacity: Math.min(0.55, busy * 0.06) };
          },
          onEachFeature: function (f, layer) {
            var p = f.properties;
            var text = "<strong>" + esc(p.name) + "</strong> " + esc(p.code);
            if (p.cases !== undefined) {
              text += "<br>" + esc(p.cases) + " " + esc(legend.cases || "") + " · " + esc(p.alerts) + " " + esc(legend.alerts || "");
            }
            layer.bindPopup(text);
          }
        }
      ).addTo(map);
      var cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 });
      data.features.forEach(function (f) {
        var p = f.properties;
        if (p.kind !== "case" && p.kind !== "alert") return;
        var c = f.geometry.coordinates;
        var marker = L.circleMarker([c[1], c[0]], {
          radius: p.kind === "alert" ? 8 : 6, color: p.kind === "alert" ? danger : accent,
          fillColor: p.kind === "alert" ? danger : accent, fillOpacity: 0.85, weight: 2
        });
        marker.bindPopup('<a href="' + esc(p.url) + '">' + esc(p.title) + "</a><br>" + esc(p.label));
        cluster.addLayer(marker);
      });
      map.addLayer(cluster);
      var bounds = cells.getBounds();
      if (cluster.getLayers().length) bounds = bounds.isValid() ? bounds.extend(cluster.getBounds()) : cluster.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 15 });
      else map.setView(data.center || [30.3, 120.1], 12);
      el._map = map;
    }).catch(function (err) {
      if (window.console) console.error("map", err);
      el.textContent = el.getAttribute("aria-label") || "";
    });
  }

  function closeToast(t) {
    if (t && t.parentNode) t.parentNode.removeChild(t);
  }

  function armToasts(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-toast]").forEach(function (t) {
      if (t.dataset.armed) return;
      t.dataset.armed = "1";
      setTimeout(function () { closeToast(t); }, t.classList.contains("toast-error") ? 12000 : 6000);
    });
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast toast-" + (kind || "info");
    t.setAttribute("data-toast", "");
    t.innerHTML = '<span class="toast-msg"></span><button type="button" class="toast-close" data-toast-close aria-label="×">×</button>';
    t.firstChild.textContent = message;
    box.appendChild(t);
    armToasts(box);
  }

  function init(root) {
    root = root && root.querySelectorAll ? root : document;
    root.querySelectorAll("[data-map]").forEach(drawMap);
    armToasts(document.getElementById("toasts") || document);
    if (root === document || root.contains(document.getElementById("nav"))) {
      var nav = document.getElementById("nav");
      var btn = document.querySelector("[data-nav-toggle]");
      if (nav && btn) { nav.classList.remove("open"); btn.setAttribute("aria-expanded", "false"); }
    }
  }

  document.addEventListener("click", function (e) {
    var close = e.target.closest("[data-toast-close]");
    if (close) { closeToast(close.closest("[data-toast]")); return; }
    var toggle = e.target.closest("[data-nav-toggle]");
    if (toggle) {
      var nav = document.getElementById("nav");
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    // a PV module map's bare module (report.map_svg): its page
    var module = e.target.closest("svg[data-link] path[data-m]");
    if (module && !module.closest("a")) {
      var map = module.closest("svg[data-link]");
      window.location.href = map.dataset.link.replace("{id}", encodeURIComponent(module.dataset.m));
      return;
    }
    var locate = e.target.closest("[data-locate]");
    if (locate && navigator.geolocation) {
      var ids = locate.dataset.locate.split(" ");
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById(ids[0]).value = pos.coords.longitude.toFixed(6);
        document.getElementById(ids[1]).value = pos.coords.latitude.toFixed(6);
      });
    }
  });

  // a PV module map's bare module gets its tooltip when first hovered, not one each in the page
  document.addEventListener("mouseover", function (e) {
    var module = e.target.closest && e.target.closest("path[data-m]");
    if (!module || module.querySelector("title")) return;
    var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = module.dataset.t || module.dataset.m;
    module.appendChild(title);
  });

  document.addEventListener("change", function (e) {
    if (e.target.matches("select[data-autosubmit]")) e.target.form.requestSubmit();
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      var nav = document.getElementById("nav");
      var btn = document.querySelector("[data-nav-toggle]");
      if (nav && nav.classList.contains("open")) { nav.classList.remove("open"); btn.setAttribute("aria-expanded", "false"); btn.focus(); }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (form.tagName === "FORM") form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form.tagName === "FORM") form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.offline || "Network error", "error");
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var cfg = e.detail.requestConfig;
    if (e.detail.boosted && cfg && cfg.verb === "get" && e.detail.target === document.body) {
      var main = document.getElementById("main");
      if (main) main.focus({ preventScroll: true });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    if (window.htmx) window.htmx.onLoad(function (el) { init(el); });
  });
})();
