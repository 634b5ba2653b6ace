import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";

/** How a REST listener behaves. */
export type ListenerMode = "up" | "refuse" | "hang";

/** TLS material of the HTTPS listeners. */
export interface ListenerTls {
  /** PEM private key. */
  readonly key: string;
  /** PEM certificate. */
  readonly cert: string;
}

/** Handles one request (the server side of the dialect). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One REST endpoint of the simulated array (a "controller"): an HTTP(S) server on one loopback
 * address. It can stop answering in two ways: `refuse` closes the listener (connections are
 * refused) and `hang` accepts requests but never answers them (the client's timers decide).
 */
export class RestListener {
  readonly host: string;
  #port = 0;
  #mode: ListenerMode = "up";
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #hung = new Set<ServerResponse>();
  readonly #handler: RequestHandler;
  readonly #tls: ListenerTls | undefined;

  constructor(host: string, handler: RequestHandler, tls: ListenerTls | undefined) {
    this.host = host;
    this.#handler = handler;
    this.#tls = tls;
  }

  /** The TCP port (0 before {@link listen}). */
  get port(): number {
    return this.#port;
  }

  /** Current mode. */
  get mode(): ListenerMode {
    return this.#mode;
  }

  /** Starts listening (on `port`, or on a free port the first time). */
  async listen(port = this.#port): Promise<void> {
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if (this.#mode === "hang") {
        this.#hung.add(res);
        res.on("close", () => this.#hung.delete(res));
        req.resume();
        return;
      }
      this.#handler(req, res);
    };
    const server = this.#tls ? createHttpsServer({ key: this.#tls.key, cert: this.#tls.cert }, onRequest) : createHttpServer(onRequest);
    server.keepAliveTimeout = 5_000;
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    // TLS handshakes of clients that give up are not our problem.
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    this.#port = typeof address === "object" && address ? address.port : port;
    this.#server = server;
  }

  /** Switches mode: `refuse` closes the listener, `up` reopens it on the same port. */
  async setMode(mode: ListenerMode): Promise<void> {
    if (mode === this.#mode) return;
    if (mode === "refuse") await this.#close();
    if (this.#mode === "refuse" && mode !== "refuse") await this.listen(this.#port);
    if (mode === "up" || mode === "refuse") this.#dropHung();
    this.#mode = mode;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.#dropHung();
    await this.#close();
  }

  #dropHung(): void {
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
  }

  async #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }
}
