/** The client side of one benchmarked system: a connection that acks every request it
 *  receives (before anything else) and can send a decision. */
export type ClientEvents = {
  /** A live request arrived (and was already acked). `createdAt` rides in its input. */
  onRequest(id: string, createdAt: number | undefined): void;
  /** Welcome and snapshot are in: the client is being served. */
  onReady(snapshotSize: number): void;
  /** Anything the protocol calls an error, or an unexpected close. */
  onProblem(what: string): void;
};

export interface BenchClient {
  decide(id: string): void;
  close(): void;
}

export type ConnectOptions = { port: number; token?: string | undefined };
export type ConnectClient = (options: ConnectOptions, events: ClientEvents) => BenchClient;
