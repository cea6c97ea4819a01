import { useEffect, useState } from 'react';

/**
 * A QR code of `payload`, drawn as SVG by the `qrcode` library, 256 px square so that a phone's
 * camera can read it off a screen. The library is loaded only when a code is shown, so it stays
 * out of the chat page's first load. Until it is drawn nothing claims to be a picture; if it
 * cannot be drawn (its code did not load), that is said instead.
 */
export function QrCode({ payload, label }: { payload: string; label: string }) {
  const [drawn, setDrawn] = useState<{ payload: string; svg: string | null } | null>(null);
  useEffect(() => {
    let cancelled = false;
    import('qrcode')
      .then((qr) => qr.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#000000', light: '#ffffff' } }))
      .then((svg) => { if (!cancelled) setDrawn({ payload, svg }); }, () => { if (!cancelled) setDrawn({ payload, svg: null }); });
    return () => { cancelled = true; };
  }, [payload]);

  const box = 'flex h-64 w-64 shrink-0 items-center justify-center rounded-lg';
  if (!drawn || drawn.payload !== payload) {
    return <div aria-hidden="true" className={`${box} bg-slate-100 dark:bg-slate-800`} />;
  }
  if (!drawn.svg) {
    return <p data-testid="safety-qr" className={`${box} border border-dashed border-slate-300 text-muted dark:border-slate-700`}>QR unavailable</p>;
  }
  // The SVG is the library's own output for a payload of ids and hex digits: nothing of a user's text.
  return (
    <div role="img" aria-label={label} data-testid="safety-qr"
      className={`${box} bg-white p-1 shadow-sm [&>svg]:h-full [&>svg]:w-full`}
      dangerouslySetInnerHTML={{ __html: drawn.svg }} />
  );
}
