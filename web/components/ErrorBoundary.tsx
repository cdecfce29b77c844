/**
 * Catches render errors (including an actor's error surfacing through a selector) so one
 * broken view shows a message and a way out instead of a blank page.
 */
import { Component, type ErrorInfo, type ReactNode } from 'react';

type Props = { label: string; children: ReactNode };
type State = { error: Error | null };

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`[${this.props.label}]`, error, info.componentStack);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="boundary">
        <p>
          <strong>{this.props.label}</strong> failed: {this.state.error.message}
        </p>
        <button type="button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
