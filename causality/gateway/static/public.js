// Copy buttons of the public pages: <button data-copy="ID"> copies the text of #ID.
// The clipboard API needs a secure context (https or localhost); elsewhere the text is
// selected so that the reader can copy it by hand, and the button says so.
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute("data-copy"));
  const status = button.parentElement.querySelector(".copied");
  if (!source) return;
  const text = source.innerText;
  try {
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (status) status.textContent = "Selected: press Ctrl+C to copy";
  }
  setTimeout(() => { if (status) status.textContent = ""; }, 2500);
});
