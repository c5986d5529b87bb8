// The Persona & branding tab's live preview: posts the unsaved look to the preview iframe, which renders it with the
// real widget (WaldurWidget.preview). Messages go to and are taken from this origin only.
export function connect(frame, look) {
  let current = look;
  const post = () => frame.contentWindow?.postMessage({ type: 'cmp-widget-preview', look: current }, location.origin);
  const onMessage = (event) => {
    if (event.origin === location.origin && event.source === frame.contentWindow && event.data?.type === 'cmp-widget-preview-ready') {
      post();
    }
  };
  window.addEventListener('message', onMessage);
  post();
  return {
    update: (next) => { current = next; post(); },
    dispose: () => window.removeEventListener('message', onMessage),
  };
}
