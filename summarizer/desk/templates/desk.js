(function () {
  "use strict";
  const TOKEN_KEY = "summarizer.desk.token";
  const $ = (id) => document.getElementById(id);
  const form = $("submit-form"), paste = $("paste"), file = $("file"), drop = $("drop");
  const errorBox = $("error"), progress = $("progress"), view = $("view"), frame = $("brief");
  let token = null;
  try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
  let watching = null, pollTimer = null, tickTimer = null, searchTimer = null;
  let etag = null, asking = null;  // the ETag of the watched brief's last status; its long poll
  const LONG_POLL_S = 25;

  class NeedsToken extends Error {}

  async function api(path, options) {
    const opts = Object.assign({cache: "no-store", credentials: "omit"}, options || {});
    opts.headers = Object.assign({}, opts.headers || {});
    if (token) opts.headers["Authorization"] = "Bearer " + token;
    const response = await fetch(path, opts);
    if (response.status === 401) { askToken(Boolean(token)); throw new NeedsToken("token"); }
    return response;
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return "the desk answered HTTP " + response.status;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }
  function clearError() { errorBox.hidden = true; errorBox.textContent = ""; $("failed-actions").hidden = true; }
  function failed(err) {
    if (err instanceof NeedsToken) return;
    showError("cannot reach the desk (" + (err && err.message ? err.message : err) + "); is summarizer serve running?");
  }

  function askToken(refused) {
    if (refused) {  // a token was sent and refused: say so, and forget it
      $("token-refused").hidden = false;
      token = null;
      try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    }
    $("token-box").hidden = false;
    $("token").focus();
  }
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim() || null;
    $("token-refused").hidden = true;
    try { if (token) localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* private mode */ }
    $("token-box").hidden = true;
    clearError();
    begin();
    if (watching) openBrief(watching);
  });

  // -- submitting ------------------------------------------------------------------------
  async function post(body, headers) {
    clearError();
    try {
      const response = await api("/v1/briefs", {method: "POST", body: body, headers: headers || {}});
      if (!response.ok) {
        const message = await errorOf(response);
        progress.hidden = true;
        showError(message);
        return;
      }
      const status = await response.json();
      follow(status);
      refreshList();
    } catch (err) { failed(err); }
  }
  function details() {  // the story details the editor filled in (empty ones left out)
    const out = {};
    const fields = {published_at: "meta-date", url: "meta-url", publisher: "meta-publisher"};
    for (const [name, id] of Object.entries(fields)) {
      const value = $(id).value.trim();
      if (value) out[name] = value;
    }
    return out;
  }
  function sendText() {
    if (!paste.value.trim()) { showError("paste an article first, or drop a file"); paste.focus(); return; }
    post(JSON.stringify(Object.assign({text: paste.value}, details())), {"Content-Type": "application/json"});
  }
  function sendFile(f) {
    const data = new FormData();
    data.append("file", f, f.name);
    for (const [name, value] of Object.entries(details())) data.append(name, value);
    post(data);
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); sendText(); });
  paste.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); sendText(); }
  });
  file.addEventListener("change", () => { if (file.files.length) sendFile(file.files[0]); file.value = ""; });
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (ev) => {
    ev.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const files = ev.dataTransfer && ev.dataTransfer.files;
    if (files && files.length) sendFile(files[0]);
  });

  // -- following one brief ---------------------------------------------------------------
  function stopWatching() {
    clearTimeout(pollTimer); clearInterval(tickTimer);
    pollTimer = tickTimer = null;
    if (asking) { asking.abort(); asking = null; }
  }
  function describe(status, elapsed) {
    const secs = Math.max(0, elapsed).toFixed(0) + " s";
    if (status.status === "queued") return "Queued: position " + (status.position || "?") + " · " + secs;
    if (status.status === "running") return "Running · " + secs;
    return status.status;
  }
  function follow(status) {
    stopWatching();
    watching = status.id;
    if (location.hash !== "#" + status.id) history.replaceState(null, "", "#" + status.id);
    if (status.status === "done") { progress.hidden = true; showBrief(status, true); return; }
    if (status.status === "failed") {
      progress.hidden = true;
      showError(status.error || "the brief failed");
      $("failed-actions").hidden = false;
      return;
    }
    const seen = Date.now();
    progress.textContent = describe(status, status.elapsed_s);
    progress.hidden = false;
    tickTimer = setInterval(() => {
      progress.textContent = describe(status, status.elapsed_s + (Date.now() - seen) / 1000);
    }, 250);
    // A long poll: the desk answers at its next change (this brief's or the queue's), or 304.
    pollTimer = setTimeout(() => openBrief(status.id, true), 100);
  }
  async function openBrief(id, waiting) {
    if (!waiting) etag = null;  // a brief opened anew: its status now, not at the next change
    if (asking) asking.abort();
    const controller = asking = new AbortController();
    try {
      const path = "/v1/briefs/" + encodeURIComponent(id) + (etag ? "?wait=" + LONG_POLL_S : "");
      const response = await api(path, {signal: controller.signal, headers: etag ? {"If-None-Match": etag} : {}});
      if (asking === controller) asking = null;
      if (watching !== id) return;  // another brief was opened meanwhile
      if (response.status === 304) { pollTimer = setTimeout(() => openBrief(id, true), 0); return; }
      if (!response.ok) { stopWatching(); progress.hidden = true; showError(await errorOf(response)); return; }
      const status = await response.json();
      if (watching !== id) return;
      etag = response.headers.get("ETag");
      clearError();
      follow(status);
      if (status.status === "done" || status.status === "failed") refreshList();
    } catch (err) {
      if (err instanceof NeedsToken || (err && err.name === "AbortError")) return;
      // The desk is restarting (or the network dropped): keep asking; the brief resumes there.
      failed(err);
      stopWatching();
      progress.textContent = "Reconnecting to the desk…";
      progress.hidden = false;
      pollTimer = setTimeout(() => { if (watching === id) openBrief(id, true); }, 2000);
    }
  }
  async function showBrief(status, reach) {
    try {
      const response = await api(status.links.html);
      if (!response.ok) { showError(await errorOf(response)); return; }
      frame.srcdoc = await response.text();
      $("view-h").textContent = status.headline || status.title || status.id;
      $("view-review").hidden = !status.needs_review;
      $("copied").textContent = "";
      view.hidden = false;
      view.dataset.id = status.id;
      progress.textContent = "Done in " + status.elapsed_s.toFixed(1) + " s";
      progress.hidden = false;
      if (reach) {  // the brief the editor waited for: take them there (below the list on a phone)
        $("view-h").focus({preventScroll: true});
        view.scrollIntoView({block: "start"});
      }
    } catch (err) { failed(err); }
  }

  // -- copy as Markdown ------------------------------------------------------------------
  async function copyMarkdown() {
    const id = view.dataset.id;
    if (!id) return;
    try {
      const response = await api("/v1/briefs/" + encodeURIComponent(id) + ".md");
      if (!response.ok) { showError(await errorOf(response)); return; }
      const text = await response.text();
      let copied = false;
      if (navigator.clipboard && window.isSecureContext) {
        try { await navigator.clipboard.writeText(text); copied = true; } catch (e) { copied = false; }
      }
      if (!copied) {  // plain http on a non-loopback name: the clipboard API is not there
        const area = $("md-fallback");
        area.value = text;
        area.select();
        copied = document.execCommand("copy");
        $("copy-md").focus();
      }
      $("copied").textContent = copied ? "Markdown copied" : "copy failed: select the text in the .md view";
    } catch (err) { failed(err); }
  }
  $("copy-md").addEventListener("click", copyMarkdown);

  // -- retry and regenerate --------------------------------------------------------------
  async function rerun(action) {
    const id = watching;
    if (!id) return;
    clearError();
    try {
      const response = await api("/v1/briefs/" + encodeURIComponent(id) + "/" + action, {method: "POST"});
      if (!response.ok) { showError(await errorOf(response)); return; }
      view.hidden = true;
      follow(await response.json());
      refreshList();
      progress.focus();
    } catch (err) { failed(err); }
  }
  $("retry").addEventListener("click", () => rerun("retry"));
  $("regenerate").addEventListener("click", () => rerun("regenerate"));

  // -- delete ----------------------------------------------------------------------------
  async function deleteBrief() {
    const id = view.dataset.id;
    if (!id || !window.confirm("Delete this brief and its article from the desk? This cannot be undone.")) return;
    try {
      const response = await api("/v1/briefs/" + encodeURIComponent(id), {method: "DELETE"});
      if (!response.ok && response.status !== 404) { showError(await errorOf(response)); return; }
      stopWatching();
      watching = null;
      view.hidden = true;
      delete view.dataset.id;
      frame.srcdoc = "";
      progress.textContent = "Deleted";
      progress.hidden = false;
      history.replaceState(null, "", location.pathname);
      refreshList();
      $("paste").focus();
    } catch (err) { failed(err); }
  }
  $("delete").addEventListener("click", deleteBrief);

  // -- recent briefs and health ----------------------------------------------------------
  function item(b) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "plain";
    button.dataset.id = b.id;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = b.headline || b.title || b.id;
    button.appendChild(title);
    const badge = document.createElement("span");
    badge.className = "badge " + b.status;
    badge.textContent = b.status === "queued" && b.position ? "queued #" + b.position : b.status;
    button.appendChild(badge);
    if (b.needs_review) {
      const review = document.createElement("span");
      review.className = "badge review";
      review.textContent = "needs review";
      button.appendChild(review);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (b.source || "") + " · " + new Date(b.submitted_at).toLocaleString() +
      (b.status === "failed" && b.error ? " · " + b.error : "");
    button.appendChild(meta);
    button.addEventListener("click", () => { clearError(); watching = b.id; openBrief(b.id); });
    li.appendChild(button);
    return li;
  }
  async function refreshList() {
    const q = $("q").value.trim();
    try {
      const response = await api("/v1/briefs?limit=30" + (q ? "&q=" + encodeURIComponent(q) : ""));
      if (!response.ok) { showError(await errorOf(response)); return; }
      const body = await response.json();
      const list = $("recent");
      list.replaceChildren(...body.items.map(item));
      $("recent-empty").textContent = q ? "No brief matches \u201c" + q + "\u201d." : "No briefs yet.";
      $("recent-empty").hidden = body.items.length > 0;
    } catch (err) { failed(err); }
  }
  async function health() {
    try {
      const response = await api("/healthz");
      if (!response.ok) return;
      const h = await response.json();
      $("health").textContent = "model " + h.model + (h.backend ? " via " + h.backend : " (starting)") +
        (h.model_error ? " · " + h.model_error : "") + " · " + h.queued + " queued, " + h.running + " running";
    } catch (err) { /* shown by the other calls */ }
  }
  $("q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(refreshList, 250); });

  let keepFresh = null;
  function begin() {
    health();
    refreshList();
    // The header and the list stay current (other editors' briefs, a restart) while the page is open.
    clearInterval(keepFresh);
    keepFresh = setInterval(() => {
      if (document.hidden) return;
      health();
      if (!$("recent").contains(document.activeElement)) refreshList();  // never pull focus away
    }, 5000);
    const start = location.hash.slice(1);
    if (/^[0-9a-f]{8,64}$/.test(start) && watching === null) { watching = start; openBrief(start); }
  }
  if (document.body.dataset.tokenRequired === "yes" && !token) askToken();  // nothing is asked before it
  else begin();
})();
