// The little of ws (the WebSocket library @fastify/websocket brings) that the tests use: the project has no
// @types/ws, and package.json is not this test's to change.
declare module "ws" {
  export default class WebSocket {
    constructor(url: string);
    readonly readyState: number;
    send(data: string | Buffer): void;
    close(): void;
    once(event: "open", listener: () => void): this;
    once(event: "error", listener: (e: Error) => void): this;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  }
}
