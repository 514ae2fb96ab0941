(function () {
  "use strict";
  var KEY = /^(g|inj)-\d+$/;
  function activate(key, scroll) {
    if (!KEY.test(key)) return false;
    var marks = document.querySelectorAll("mark." + key);
    if (!marks.length) return false;
    document.querySelectorAll(".active").forEach(function (el) { el.classList.remove("active"); });
    marks.forEach(function (m) { m.classList.add("active"); });
    document.querySelectorAll('a.jump[data-g="' + key + '"]').forEach(function (a) {
      a.classList.add("active");
    });
    if (scroll) marks[0].scrollIntoView({block: "center"});
    return true;
  }
  document.addEventListener("click", function (ev) {
    var target = ev.target instanceof Element ? ev.target : null;
    var jump = target && target.closest("a.jump");
    if (jump) {
      if (activate(jump.getAttribute("data-g") || "", true)) ev.preventDefault();
      return;
    }
    var mark = target && target.closest("mark");
    if (!mark) return;
    var key = Array.prototype.find.call(mark.classList, function (c) { return KEY.test(c); });
    if (key && activate(key, false)) {
      var item = document.querySelector('a.jump[data-g="' + key + '"]');
      if (item) item.scrollIntoView({block: "nearest"});
    }
  });
  var hash = location.hash.slice(1);
  if (hash) activate(hash, true);
})();
