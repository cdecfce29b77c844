/** The peer's address (for the audit log's "who"), from the Node request that
 *  @hono/node-server puts in `c.env`; undefined in-process (`app.request()`). */
export function remoteAddressOf(env: unknown): string | undefined {
  return (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
}
