// Copy-to-clipboard for buttons with data-copy="#field-id" (an input or textarea). Works without it too: the field is selectable.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var status = button.closest(".card") && button.closest(".card").querySelector(".copy-status");
  function done(ok) {
    button.textContent = ok ? "Copied" : "Copy";
    if (status) status.textContent = ok ? "Copied to the clipboard." : "Select the text and copy it with Ctrl+C / ⌘C.";
  }
  field.focus();
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(document.execCommand("copy")); });
  } else {
    done(document.execCommand("copy"));
  }
});

// On narrow screens the section nav scrolls sideways: keep the current section in view.
document.addEventListener("DOMContentLoaded", function () {
  var current = document.querySelector(".sidenav [aria-current=page]");
  var nav = current && current.closest(".sidenav");
  if (nav && nav.scrollWidth > nav.clientWidth) {
    nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }
});
