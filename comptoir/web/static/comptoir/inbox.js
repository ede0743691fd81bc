// Staff pages: browser notifications when the inbox's unread count goes up (the nav badge is
// polled by htmx), the inbox's status selector, and Ctrl+Enter to send a reply.
(function () {
  "use strict";

  var KEY = "comptoir.unread"; // shared by every tab, so one increase notifies once
  var supported = "Notification" in window;

  function enableButton() {
    var button = document.getElementById("notify-enable");
    if (button) button.hidden = !supported || Notification.permission !== "default";
  }

  function notify(counter, count) {
    var before = parseInt(localStorage.getItem(KEY), 10);
    localStorage.setItem(KEY, String(count));
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (count > 0) document.title = "(" + count + ") " + document.title;
    if (isNaN(before) || count <= before) return;
    if (!supported || Notification.permission !== "granted") return;
    var note = new Notification(counter.dataset.title, {
      body: counter.dataset.body,
      tag: "comptoir-inbox",
    });
    note.onclick = function () {
      window.focus();
      window.location.href = counter.dataset.url;
    };
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "inbox-badge") return;
    var counter = target.querySelector("[data-count]");
    if (counter) notify(counter, parseInt(counter.dataset.count, 10) || 0);
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("#notify-enable") || !supported) return;
    Notification.requestPermission().then(enableButton);
  });

  // A filter that applies as soon as it is picked (a plain submit button without JavaScript).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (event.target.matches("textarea[data-send-on-ctrl-enter]")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  document.addEventListener("DOMContentLoaded", enableButton);
})();
