import { randomBytes } from "node:crypto";
import pg from "pg";
import type { PostgresServer } from "./postgres-global-setup.js";

/** Creates an empty database on the shared test server and returns its name. */
export async function freshDatabase(server: PostgresServer, prefix = "volkit"): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withClient(server, "postgres", (c) => c.query(`create database ${name}`));
  return name;
}

/** Runs `fn` with a connected client to `database`, closing it after. */
export async function withClient<T>(server: PostgresServer, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
