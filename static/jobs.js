// The progress of a report being made: asks the server every two seconds until the file is
// ready, then shows its download link. The page works without this script (a refresh link).
(() => {
  "use strict";
  const box = document.getElementById("job");
  if (!box) return;
  const bar = document.getElementById("job-progress");
  const message = document.getElementById("job-message");
  const download = document.getElementById("job-download");
  const refresh = document.getElementById("job-refresh");
  const url = box.getAttribute("data-status");
  const state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") return;
  refresh.hidden = true;

  // Shows the job's progress; true once it is finished (done or failed).
  const show = (job) => {
    bar.value = job.percent;
    bar.textContent = `${job.percent}%`;
    message.textContent = job.message;
    if (job.status !== "done" && job.status !== "failed") return false;
    bar.hidden = true;
    if (job.download) {
      download.href = job.download;
      download.hidden = false;
    }
    return true;
  };

  const poll = () => {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then((job) => {
        if (!show(job)) setTimeout(poll, 2000);
      })
      .catch(() => {
        // Offline or the server restarted: keep trying, more slowly.
        setTimeout(poll, 5000);
      });
  };
  setTimeout(poll, 1000);
})();
