/** A configuration mistake, found when the proxy is created. `code` is stable. */
export class ProxyConfigError extends Error {
  readonly code = 'config_error';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}
