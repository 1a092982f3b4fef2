// The stand-in page's versions of the few globals that the WebUI's own script.js gives extensions:
// gradioApp() and onAfterUiUpdate(), run after the page's elements change (debounced, as there).
// Written for the stand-in page (tests/browser/standin_page.py); no code of the WebUI is in here.

function gradioApp() {
    const app = document.querySelector("gradio-app");
    const root = app.shadowRoot || app;
    if (!root.getElementById) root.getElementById = (id) => document.getElementById(id);
    return root;
}

const standInAfterUpdateCallbacks = [];

function onAfterUiUpdate(callback) {
    standInAfterUpdateCallbacks.push(callback);
}

document.addEventListener("DOMContentLoaded", () => {
    let pending = null;
    new MutationObserver(() => {
        clearTimeout(pending);
        pending = setTimeout(() => standInAfterUpdateCallbacks.forEach((callback) => callback()), 200);
    }).observe(gradioApp(), {childList: true, subtree: true});
});
