// The lab's alert receiver: an HTTP server on the lab bridge (198.18.0.1, where the lab hosts
// reach the runner, as they would reach Slack or a webhook endpoint outside the cluster) that
// records every POST with its arrival time. The stack's Alertmanager sends to it through the
// URL in its secret file; nothing else in the lab posts here.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { BRIDGE_ADDRESS } from "./lab-hosts";

export interface ReceivedNotification {
  /** Date.now() when the body was complete. */
  readonly at: number;
  readonly path: string;
  readonly body: unknown;
}

/** The parts of Alertmanager's Slack payload the lab checks (notify/slack/slack.go request: channel, attachments). */
export interface SlackPayload {
  readonly channel?: string;
  readonly attachments?: readonly { readonly title?: string; readonly text?: string; readonly fallback?: string }[];
}

/** Bodies above this are refused: Alertmanager's notifications are a few kB. */
const MAX_BODY = 1 << 20;

export class AlertReceiver {
  readonly received: ReceivedNotification[] = [];
  private server?: http.Server;
  private port = 0;

  /** The receiver's URL path; the lab stack's alertSlackWebhookUrl names it. */
  static readonly PATH = "/lab-alerts";

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      req.on("end", () => {
        if (req.method !== "POST" || size > MAX_BODY) {
          res.writeHead(req.method === "POST" ? 413 : 405).end();
          return;
        }
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Kept as text: the check then says what arrived.
        }
        this.received.push({ at: Date.now(), path: req.url ?? "", body });
        // Slack answers "ok"; Alertmanager's Slack notifier checks the status only.
        res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, BRIDGE_ADDRESS, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get url(): string {
    if (!this.server) throw new Error("the alert receiver is not started");
    return `http://${BRIDGE_ADDRESS}:${this.port}${AlertReceiver.PATH}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
