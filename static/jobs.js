// The progress of a report being made: asks the server every two seconds until the file is
// ready, then shows its download link. The page works without this script (a refresh link).
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  var bar = document.getElementById("job-progress");
  var message = document.getElementById("job-message");
  var download = document.getElementById("job-download");
  var refresh = document.getElementById("job-refresh");
  var url = box.getAttribute("data-status");
  var state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") return;
  refresh.hidden = true;

  function show(job) {
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    message.textContent = job.message;
    if (job.status === "done" || job.status === "failed") {
      bar.hidden = true;
      if (job.download) {
        download.href = job.download;
        download.hidden = false;
      }
      return true;
    }
    return false;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (job) {
        if (!show(job)) setTimeout(poll, 2000);
      })
      .catch(function () {
        // Offline or the server restarted: keep trying, more slowly.
        setTimeout(poll, 5000);
      });
  }
  setTimeout(poll, 1000);
})();
