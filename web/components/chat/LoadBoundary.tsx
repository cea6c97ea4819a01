import { Component, createRef, lazy, Suspense, useState, type ComponentType, type ReactNode } from 'react';

/** A piece of the app's code that did not arrive (offline, or the server away), as opposed to a bug. */
function isLoadFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'ChunkLoadError'
    || /failed to load chunk|loading chunk|dynamically imported module|importing a module script failed/i.test(error.message);
}

/**
 * Keeps a panel that failed to render from taking the whole page down: in its place, what went
 * wrong and Retry. A panel loaded on demand fails like this when its code cannot be fetched.
 */
export class LoadBoundary extends Component<{ children: ReactNode; onRetry: () => void; className?: string }, { error: unknown; failed: boolean }> {
  state = { error: null as unknown, failed: false };
  private readonly retryButton = createRef<HTMLButtonElement>();

  static getDerivedStateFromError(error: unknown) {
    return { error, failed: true };
  }

  componentDidUpdate(_: unknown, before: { failed: boolean }) {
    // What had focus (the button that opened the panel, or the panel itself) may be gone.
    if (this.state.failed && !before.failed) this.retryButton.current?.focus();
  }

  render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" className={`flex flex-wrap items-center gap-3 border-b border-slate-200 text-sm dark:border-slate-800 ${this.props.className ?? 'p-4'}`}>
        <p>{isLoadFailure(this.state.error) ? 'Couldn\'t load — check your connection.' : 'Something went wrong here.'}</p>
        <button ref={this.retryButton} type="button" onClick={this.props.onRetry}
          className="rounded-full border border-slate-300 px-3 py-1 text-xs font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-700 dark:hover:bg-slate-800">
          Retry
        </button>
      </div>
    );
  }
}

/**
 * A component whose code loads when it is first shown, inside a LoadBoundary whose Retry really
 * fetches the code again: React.lazy keeps a failed load's error for good, so a retry needs a new
 * lazy component (the bundler's loader then asks for the chunk afresh).
 */
export function lazyPanel<P extends object>(load: () => Promise<ComponentType<P>>, className = 'p-4'): ComponentType<P> {
  const make = () => lazy(() => load().then((component) => ({ default: component })));
  let Loaded = make();
  return function LazyPanel(props: P) {
    const [attempt, setAttempt] = useState(0);
    const retry = () => {
      Loaded = make();
      setAttempt(attempt + 1);
    };
    return (
      <LoadBoundary key={attempt} onRetry={retry} className={className}>
        <Suspense fallback={<p role="status" className={`border-b border-slate-200 text-sm dark:border-slate-800 ${className}`}>Loading…</p>}>
          <Loaded {...props} />
        </Suspense>
      </LoadBoundary>
    );
  };
}
