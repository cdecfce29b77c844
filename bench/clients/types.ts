/** The client side of one benchmarked system: a connection that acks every request it
 *  receives (before anything else) and can send a decision. */
export type ClientEvents = {
  /** A live request arrived (and was already acked). `createdAt` rides in its input. */
  onRequest(id: string, createdAt: number | undefined, decider?: number): void;
  /** Welcome and snapshot are in: the client is being served. */
  onReady(snapshotSize: number): void;
  /** Anything the protocol calls an error, or an unexpected close. */
  onProblem(what: string): void;
  /** Gatehouse: a welcome on `port` (`resumed`: it continued from its `since`). */
  onWelcome?(port: number, resumed: boolean): void;
  /** Gatehouse: it now holds every event up to `seq` (checked gapless). */
  onSeq?(seq: number): void;
};

export interface BenchClient {
  decide(id: string): void;
  close(): void;
}

export type ConnectOptions = {
  port: number;
  token?: string | undefined;
  /** Gatehouse, several instances: when the socket closes under it, the client resumes
   *  (`since` and `epoch`) on another of these ports, as a client behind a load balancer
   *  does; without it a close is a problem. */
  failoverPorts?: number[] | undefined;
};
export type ConnectClient = (options: ConnectOptions, events: ClientEvents) => BenchClient;
