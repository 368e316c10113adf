// Draw each plotly figure of the page from the JSON beside it, with the site's one plotly.min.js.
// A figure wider than its column is scaled down as a whole (its text with it), never cut.
(function () {
  var figures = [];

  function fit(f) {
    var scale = f.width && f.width > f.frame.clientWidth ? f.frame.clientWidth / f.width : 1;
    f.div.style.transform = scale < 1 ? "scale(" + scale + ")" : "";
    f.frame.style.height = Math.ceil(f.height * scale) + "px";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("div.facnn-plotly").forEach(function (div) {
      var fig = JSON.parse(div.nextElementSibling.textContent);
      var layout = fig.layout || {};
      var config = Object.assign({ displaylogo: false, responsive: !layout.width }, fig.config || {});
      var f = { div: div, frame: div.parentElement, width: layout.width, height: layout.height || 450 };
      figures.push(f);
      fit(f);
      Plotly.newPlot(div, fig.data || [], layout, config);
    });
    window.addEventListener("resize", function () { figures.forEach(fit); });
  });
})();
