// A render error inside one panel replaces that panel with a message and a retry button; the rest of
// the page (and the loaded model) keeps working.
import { Component, type ErrorInfo, type ReactNode } from 'react';

interface State {
  error: Error | null;
}

export class PanelBoundary extends Component<{ name: string; children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`panel ${this.props.name} failed to render`, error, info.componentStack);
  }

  override render(): ReactNode {
    if (!this.state.error) return this.props.children;
    return (
      <section className="panel" role="alert">
        <h2>{this.props.name}</h2>
        <div className="error-box">
          <div className="error-title">This panel stopped working</div>
          <div className="error-message">{this.state.error.message}</div>
          <button type="button" className="small" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      </section>
    );
  }
}
