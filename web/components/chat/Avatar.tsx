/** A person's or group's initial on a colour derived from the name, with a dot when they are online. */
export function Avatar({ name, online }: { name: string; online?: boolean }) {
  const hue = [...name].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 360, 7);
  return (
    <span className="relative inline-flex h-10 w-10 shrink-0 items-center justify-center rounded-full text-sm font-semibold text-white" style={{ background: `hsl(${hue} 55% 45%)` }} aria-hidden="true">
      {name.slice(0, 1).toUpperCase()}
      {online && <span data-presence="online" className="absolute right-0 bottom-0 h-3 w-3 rounded-full border-2 border-white bg-brand-500 dark:border-slate-950" />}
    </span>
  );
}
