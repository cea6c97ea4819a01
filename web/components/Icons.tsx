// Inline icons: no icon font or emoji font is needed to render them.

export function LockIcon({ className = 'h-5 w-5' }: { className?: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" className={className} aria-hidden="true">
      <rect x="4" y="11" width="16" height="10" rx="2" />
      <path d="M8 11V7a4 4 0 0 1 8 0v4" />
    </svg>
  );
}

export function ClockIcon({ className = 'inline h-3 w-3' }: { className?: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" className={className} aria-hidden="true">
      <circle cx="12" cy="12" r="9" />
      <path d="M12 7v5l3 2" />
    </svg>
  );
}

/** One tick (sent) or two (delivered, read), drawn like the familiar messenger ticks. */
export function TickIcon({ double = false, className = 'inline h-3 w-[18px]' }: { double?: boolean; className?: string }) {
  return (
    <svg viewBox="0 0 18 12" fill="none" stroke="currentColor" strokeWidth="1.75" strokeLinecap="round" strokeLinejoin="round" className={className} aria-hidden="true">
      {double ? (
        <>
          <path d="M1.5 6.5l3 3 7-7" />
          <path d="M8 8l1.5 1.5 7-7" />
        </>
      ) : (
        <path d="M4.5 6.5l3 3 7-7" />
      )}
    </svg>
  );
}
