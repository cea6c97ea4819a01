import { useEffect, useState } from 'react';

/**
 * A QR code of `payload`, drawn as SVG by the `qrcode` library. The library is loaded only when a
 * code is shown, so it stays out of the chat page's first load.
 */
export function QrCode({ payload, label }: { payload: string; label: string }) {
  const [svg, setSvg] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    void import('qrcode')
      .then((qr) => qr.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#000000', light: '#ffffff' } }))
      .then((drawn) => { if (!cancelled) setSvg(drawn); })
      .catch(() => {});
    return () => { cancelled = true; };
  }, [payload]);
  // The SVG is the library's own output for a payload of ids and hex digits: nothing of a user's text.
  return (
    <div role="img" aria-label={label} data-testid="safety-qr"
      className="h-40 w-40 shrink-0 rounded-lg bg-white p-1 shadow-sm"
      dangerouslySetInnerHTML={svg ? { __html: svg } : undefined} />
  );
}
