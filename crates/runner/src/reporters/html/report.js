// Filters the report by outcome, identity and layer; the URL fragment holds the filters
// (`#outcome=fail&identity=viewer&layer=app`) so a link shows the same view.
(function () {
  "use strict";
  var names = ["outcome", "identity", "layer"];
  var selects = {};
  names.forEach(function (n) { selects[n] = document.getElementById("f-" + n); });
  var cases = document.querySelectorAll(".c, .p");
  var columns = document.querySelectorAll("th[data-i], td[data-i]");
  var rows = document.querySelectorAll("section.m tbody tr");
  var sections = document.querySelectorAll("section.m, section.list");
  var blocks = document.querySelectorAll(".c").length;

  function fromHash() {
    var hash = location.hash.slice(1);
    if (hash.indexOf("=") < 0) { return null; }
    var wanted = { outcome: "", identity: "", layer: "" };
    hash.split("&").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at < 1) { return; }
      var key, value;
      try {
        key = decodeURIComponent(pair.slice(0, at));
        value = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, " "));
      } catch (e) { return; }
      if (Object.prototype.hasOwnProperty.call(wanted, key)) { wanted[key] = value; }
    });
    return wanted;
  }

  function matches(el, f) {
    var d = el.dataset;
    if (f.outcome === "escalation" ? d.k !== "escalation" : f.outcome && d.o !== f.outcome) { return false; }
    if (f.identity && d.i !== f.identity) { return false; }
    return !(f.layer && d.l !== f.layer);
  }

  function apply() {
    var f = { outcome: selects.outcome.value, identity: selects.identity.value, layer: selects.layer.value };
    var any = f.outcome || f.identity || f.layer;
    var shown = 0;
    var i;
    for (i = 0; i < cases.length; i++) {
      var ok = !any || matches(cases[i], f);
      cases[i].hidden = !ok;
      if (ok && cases[i].classList.contains("c")) { shown++; }
    }
    for (i = 0; i < columns.length; i++) {
      columns[i].hidden = !!f.identity && columns[i].dataset.i !== f.identity;
    }
    for (i = 0; i < rows.length; i++) {
      rows[i].hidden = !!any && !rows[i].querySelector(".c:not([hidden])");
    }
    var visible = 0;
    for (i = 0; i < sections.length; i++) {
      var s = sections[i];
      var empty = s.classList.contains("m") ? !s.querySelector("tbody tr:not([hidden])") : !s.querySelector(".p:not([hidden])");
      s.hidden = empty;
      if (!empty) { visible++; }
    }
    document.getElementById("none").hidden = visible > 0;
    document.getElementById("shown").textContent = any ? shown + " of " + blocks + " cases shown" : blocks + " cases";
  }

  function setFrom(wanted) {
    names.forEach(function (n) {
      var s = selects[n];
      var value = wanted ? wanted[n] : "";
      var known = Array.prototype.some.call(s.options, function (o) { return o.value === value; });
      s.value = known ? value : "";
    });
    apply();
  }

  function toHash() {
    var parts = [];
    names.forEach(function (n) {
      if (selects[n].value) { parts.push(n + "=" + encodeURIComponent(selects[n].value)); }
    });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
    apply();
  }

  names.forEach(function (n) { selects[n].addEventListener("change", toHash); });
  document.getElementById("f-clear").addEventListener("click", function () { setFrom(null); toHash(); });
  window.addEventListener("hashchange", function () { var w = fromHash(); if (w) { setFrom(w); } });
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a.go") : null;
    if (!a) { return; }
    var target = document.getElementById(a.getAttribute("href").slice(1));
    if (target) {
      e.preventDefault();
      target.scrollIntoView({ block: "center" });
      var d = target.closest("td") && target.querySelector("details");
      if (d) { d.open = true; }
    }
  });
  document.documentElement.dataset.ready = "1";
  setFrom(fromHash());
})();
