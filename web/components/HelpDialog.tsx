/** The keyboard help, a modal dialog (native <dialog>: focus trap and Escape for free). */
import { useEffect, useRef } from 'react';

export function HelpDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby="help-title" onClose={onClose} className="help">
      <h2 id="help-title">Keyboard shortcuts</h2>
      <dl>
        <dt>a</dt>
        <dd>Allow the selected request</dd>
        <dt>d</dt>
        <dd>Deny it (with the reason typed in its card)</dd>
        <dt>e</dt>
        <dd>Edit its input, then allow</dd>
        <dt>j / k</dt>
        <dd>Select the next / previous request</dd>
        <dt>?</dt>
        <dd>This help</dd>
      </dl>
      <form method="dialog">
        <button type="submit">Close</button>
      </form>
    </dialog>
  );
}
