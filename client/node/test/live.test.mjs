// Arca from Node: @grpc/grpc-js with @grpc/proto-loader loading proto/
// directly (no generated code), against a live server started here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = dirname(fileURLToPath(import.meta.url));
const protoRoot = join(here, "..", "..", "..", "proto", "proto");
const protoFiles = readdirSync(join(protoRoot, "arca", "v1")).map((f) => join("arca", "v1", f));
const definition = protoLoader.loadSync(protoFiles, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoRoot] });
const arca = grpc.loadPackageDefinition(definition).arca.v1;

let server;
let address;
let key;
let data;

before(async () => {
  const binary = process.env.ARCA_SERVER_BIN;
  assert.ok(binary, "set ARCA_SERVER_BIN to the arca-server binary (tests/run.sh does)");
  data = mkdtempSync(join(tmpdir(), "arca-node-"));
  server = spawn(binary, ["--listen", "127.0.0.1:0", "--data-dir", data, "--log-format", "json"], { stdio: ["ignore", "pipe", "ignore"] });
  address = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.on("line", (line) => {
      try {
        const event = JSON.parse(line);
        if (event.fields?.message === "arca listening") resolve(event.fields.address);
      } catch {}
    });
    server.on("exit", () => reject(new Error("server exited")));
  });
  key = readFileSync(join(data, "admin.key"), "utf8").trim();
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  if (data) rmSync(data, { recursive: true, force: true });
});

function client(Service) {
  return new Service(address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": 16 << 20, "grpc.max_send_message_length": 16 << 20 });
}

// grpc-js will not attach call credentials to a plaintext channel, so the
// bearer credential goes in each call's metadata.
function auth() {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

const unary = (stub, method, request) => new Promise((resolve, reject) => stub[method](request, auth(), (err, res) => (err ? reject(err) : resolve(res))));

test("stream a file up and down, and list the workspace", async () => {
  const namespaces = client(arca.NamespaceService);
  const files = client(arca.FileService);
  const ns = await unary(namespaces, "CreateNamespace", { type: "NAMESPACE_TYPE_WORKSPACE", scope: "SCOPE_USER", owner: { sandbox: "node", user: "ada" } });

  const content = randomBytes(5 * 1024 * 1024 + 17);
  const digest = createHash("sha256").update(content).digest("hex");
  const committed = await new Promise((resolve, reject) => {
    const call = files.Upload(auth());
    let entry;
    call.on("data", (answer) => { if (answer.committed) entry = answer.committed; });
    call.on("error", reject);
    call.on("end", () => resolve(entry));
    call.write({ start: { namespace_id: ns.namespace_id, path: "docs/big.bin", expected_sha256: digest } });
    const chunk = 1 << 20;
    for (let offset = 0; offset < content.length; offset += chunk) {
      call.write({ data: { offset: String(offset), data: content.subarray(offset, offset + chunk) } });
    }
    call.write({ finish: {} });
    call.end();
  });
  assert.equal(committed.sha256, digest);
  assert.equal(Number(committed.size), content.length);

  const { data, trailer } = await new Promise((resolve, reject) => {
    const call = files.Download(auth());
    const parts = [];
    call.on("data", (answer) => {
      if (answer.data) parts.push(answer.data.data);
      if (answer.trailer) { resolve({ data: Buffer.concat(parts), trailer: answer.trailer }); call.end(); }
    });
    call.on("error", reject);
    call.write({ namespace_id: ns.namespace_id, path: "docs/big.bin" });
  });
  assert.equal(trailer.sha256, digest);
  assert.ok(data.equals(content));

  const listed = await unary(files, "List", { namespace_id: ns.namespace_id, recursive: true });
  assert.deepEqual(listed.entries.map((e) => e.path), ["docs", "docs/big.bin"]);
});
