// Starts fauxqs (SQS + SNS emulator) on 127.0.0.1 only; the package's CLI would bind 0.0.0.0.
import { buildApp } from "fauxqs";

const port = Number(process.env.BUS_FAUXQS_PORT ?? 4566);
const app = buildApp({ logger: false, defaultRegion: "us-east-1" });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await app.close();
    process.exit(0);
  });
}
