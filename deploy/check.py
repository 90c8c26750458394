"""Checks the Kubernetes manifests offline, the way a cluster would see them.

For each overlay under deploy/kubernetes/overlays:
  1. renders it with `kubectl kustomize` (skipped, with the reason printed,
     only where kubectl is absent);
  2. validates every resource with `kubernetes-validate --strict` against a
     current Kubernetes version;
  3. extracts the ConfigMap's config.toml and checks it is what the
     StatefulSet runs: the container's args name the mounted file, every
     secret file the configuration reads is a key the Secret volume
     projects (and every projected key is read), the probes, the Service
     and the metrics port agree with the configuration, and the grace
     period outlasts the server's drain;
  4. runs `arca-server --check-config` on it, then starts the server with
     the image's arguments on that configuration (paths moved into a
     temporary directory, the S3 endpoint pointed at the test S3 server),
     asks grpc.health for readiness and liveness, scrapes /metrics, and
     stops it with SIGTERM. An overlay with metadata on PostgreSQL runs
     two replicas at once against the test database
     (ARCA_TEST_POSTGRES_URL, a fresh schema), checks a namespace made
     through one is seen through the other, and stops both.

Usage: python deploy/check.py ARCA_SERVER_BINARY GRPCURL
"""

import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import tomllib
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parent
OVERLAYS = ROOT / "kubernetes" / "overlays"
KUBERNETES_VERSION = "1.37.0"


def fail(message):
    print(f"deploy check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True
    )
    if out.returncode != 0:
        fail(f"kubectl kustomize {overlay.name}: {out.stderr}")
    return out.stdout


def validate(name, rendered, workdir):
    path = workdir / f"{name}.yaml"
    path.write_text(rendered)
    validator = pathlib.Path(sys.executable).parent / "kubernetes-validate"
    out = subprocess.run(
        [str(validator), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        fail(f"{name}: kubernetes-validate --strict:\n{out.stdout}{out.stderr}")


def one(docs, kind):
    found = [d for d in docs if d and d.get("kind") == kind]
    if len(found) != 1:
        fail(f"expected one {kind}, found {len(found)}")
    return found[0]


def secret_files(config):
    """Every file of secrets the configuration reads."""
    files = []
    auth = config.get("auth", {})
    if "keys_file" in auth:
        files.append(auth["keys_file"])
    if "hmac_key_file" in config.get("presign", {}):
        files.append(config["presign"]["hmac_key_file"])
    for backend in config.get("backends", {}).values():
        for field in ("access_key_id_file", "secret_access_key_file"):
            if field in backend:
                files.append(backend[field])
    tls = config.get("tls") or {}
    if "key_file" in tls:
        files.append(tls["key_file"])
    metadata = config.get("metadata", {})
    for field in ("url_file", "password_file", "ca_file"):
        if field in metadata:
            files.append(metadata[field])
    return files


def cross_check(name, docs, text):
    config = tomllib.loads(text)
    sts = one(docs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    config_mount = mounts["config"]
    if container["args"] != ["--config", config_mount["mountPath"]]:
        fail(f"{name}: container args {container['args']} do not name the mounted config")
    if mounts["data"]["mountPath"] != config["data_dir"]:
        fail(f"{name}: data_dir {config['data_dir']} is not the volume's mount")

    secret_mount = mounts["secrets"]["mountPath"].rstrip("/")
    items = volumes["secrets"]["secret"]["items"]
    projected = {f"{secret_mount}/{i['path']}" for i in items}
    read = set(secret_files(config))
    if read - projected:
        fail(f"{name}: the config reads {sorted(read - projected)}, which the Secret volume does not project")
    if projected - read:
        fail(f"{name}: the Secret volume projects {sorted(projected - read)}, which the config never reads")
    mode = volumes["secrets"]["secret"].get("defaultMode", 0o644)
    if mode & 0o004:
        fail(f"{name}: secret files would be world-readable (mode {oct(mode)}); the server refuses them")

    grpc_port = int(config["listen"].rsplit(":", 1)[1])
    metrics_port = int(config["metrics"]["listen"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if ports != {"grpc": grpc_port, "metrics": metrics_port}:
        fail(f"{name}: container ports {ports} differ from the config's {grpc_port}, {metrics_port}")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if container[probe]["grpc"]["port"] != grpc_port:
            fail(f"{name}: {probe} does not probe the gRPC port")
    if container["livenessProbe"]["grpc"]["service"] != "arca.liveness":
        fail(f"{name}: liveness must ask for arca.liveness (readiness follows the backends)")
    service = one(docs, "Service")
    targets = {p["name"]: p["targetPort"] for p in service["spec"]["ports"]}
    if targets != {"grpc": "grpc", "metrics": "metrics"}:
        fail(f"{name}: service ports {targets}")
    grace = config.get("shutdown_grace_secs", 10)
    if pod["terminationGracePeriodSeconds"] <= grace:
        fail(f"{name}: terminationGracePeriodSeconds must outlast shutdown_grace_secs ({grace})")
    security = container["securityContext"]
    if not security.get("readOnlyRootFilesystem") or pod["securityContext"].get("runAsNonRoot") is not True:
        fail(f"{name}: the container must run non-root on a read-only root filesystem")
    return config, container["args"], secret_mount


def localize(text, workdir, secret_mount, grpc_port, metrics_port):
    """The config with its paths moved into `workdir` and loopback ports."""
    config = tomllib.loads(text)
    out = text.replace(secret_mount, str(workdir / "secrets"))
    out = out.replace(config["data_dir"], str(workdir / "data"))
    out = out.replace(f'listen = "{config["listen"]}"', f'listen = "127.0.0.1:{grpc_port}"')
    out = out.replace(
        f'listen = "{config["metrics"]["listen"]}"', f'listen = "127.0.0.1:{metrics_port}"'
    )
    if config.get("metadata", {}).get("engine") == "postgres" and not os.environ.get(
        "ARCA_TEST_POSTGRES_URL"
    ):
        return None
    endpoint = os.environ.get("ARCA_TEST_S3_ENDPOINT")
    for backend in config.get("backends", {}).values():
        if backend.get("kind") == "s3":
            if not endpoint:
                return None
            out = out.replace(f'endpoint = "{backend["endpoint"]}"', f'endpoint = "{endpoint}"')
    return out


def make_secrets(workdir, config, secret_mount):
    directory = workdir / "secrets"
    directory.mkdir()
    admin_secret = "arca_k_" + secrets.token_hex(32)
    for path in secret_files(config):
        name = path[len(secret_mount) + 1 :]
        target = directory / name
        if name == "keys.toml":
            import hashlib

            digest = hashlib.sha256(admin_secret.encode()).hexdigest()
            target.write_text(
                f'[keys.ops]\nsandbox = "ops"\nrole = "admin"\nall_sandboxes = true\nsecret_sha256 = "{digest}"\n'
            )
        elif name == "presign-hmac-key":
            target.write_text(secrets.token_hex(32) + "\n")
        elif name == "postgres-url":
            target.write_text(postgres_url_with_fresh_schema() + "\n")
        elif name == "postgres-password":
            target.write_text(os.environ.get("ARCA_TEST_POSTGRES_PASSWORD", "") + "\n")
        else:
            target.write_text("test\n")
        target.chmod(0o440)
    return admin_secret


def postgres_url_with_fresh_schema():
    """The test database's URL, in a schema of its own made here."""
    url = os.environ["ARCA_TEST_POSTGRES_URL"]
    schema = "deploy_" + secrets.token_hex(6)
    env = dict(os.environ, PGPASSWORD=os.environ.get("ARCA_TEST_POSTGRES_PASSWORD", ""))
    psql = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/psql"))
    command = str(psql[-1]) if psql else "psql"
    out = subprocess.run(
        [command, url, "-q", "-c", f"CREATE SCHEMA {schema}"], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        fail(f"creating a schema for the deployment check: {out.stderr}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def ensure_bucket(config):
    endpoint = os.environ["ARCA_TEST_S3_ENDPOINT"]
    import boto3

    for backend in config.get("backends", {}).values():
        if backend.get("kind") == "s3":
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                region_name="us-east-1",
            )
            try:
                s3.create_bucket(Bucket=backend["bucket"])
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass


def start_server(name, run_args):
    server = subprocess.Popen(run_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in server.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("fields", {}).get("message") == "arca listening":
            return server
    server.kill()
    fail(f"{name}: the server did not start")


def stop_server(name, server):
    server.send_signal(signal.SIGTERM)
    if server.wait(timeout=40) != 0:
        fail(f"{name}: SIGTERM did not stop the server cleanly")


def grpc(grpcurl, admin_secret, port, method, body):
    return subprocess.run(
        [grpcurl, "-plaintext", "-H", f"authorization: Bearer {admin_secret}", "-d", json.dumps(body),
         f"127.0.0.1:{port}", method],
        capture_output=True, text=True,
    )


def check_second_replica(name, binary, grpcurl, args, localized, admin_secret, workdir, grpc_port):
    """A second replica on the same configuration (its own ports and data
    directory) sees what the first wrote."""
    port, metrics = free_port(), free_port()
    config = tomllib.loads(localized)
    text = localized.replace(f'"127.0.0.1:{grpc_port}"', f'"127.0.0.1:{port}"')
    text = text.replace(config["metrics"]["listen"], f"127.0.0.1:{metrics}")
    text = text.replace(config["data_dir"], str(workdir / "data-2"))
    path = workdir / "config-2.toml"
    path.write_text(text)
    second = start_server(name, [binary] + [str(path) if a == args[1] else a for a in args])
    try:
        created = grpc(grpcurl, admin_secret, grpc_port, "arca.v1.NamespaceService/CreateNamespace", {
            "type": "NAMESPACE_TYPE_WORKSPACE", "scope": "SCOPE_SANDBOX", "owner": {"sandbox": "ops"},
            "name": "seen-by-every-replica",
        })
        if '"namespaceId"' not in created.stdout:
            fail(f"{name}: CreateNamespace on the first replica: {created.stdout}{created.stderr}")
        namespace = json.loads(created.stdout)["namespaceId"]
        seen = grpc(grpcurl, admin_secret, port, "arca.v1.NamespaceService/GetNamespace",
                    {"namespaceId": namespace})
        if namespace not in seen.stdout:
            fail(f"{name}: the second replica does not see the first's namespace: {seen.stdout}{seen.stderr}")
        stop_server(name, second)
    finally:
        if second.poll() is None:
            second.kill()


def run_server(name, binary, grpcurl, args, localized, admin_secret, workdir, grpc_port, metrics_port):
    config_path = workdir / "config.toml"
    config_path.write_text(localized)
    run_args = [binary] + [str(config_path) if a == args[1] else a for a in args]
    checked = subprocess.run(run_args + ["--check-config"], capture_output=True, text=True)
    if checked.returncode != 0:
        fail(f"{name}: arca-server --check-config refused the ConfigMap's config:\n{checked.stderr}")
    server = start_server(name, run_args)
    try:
        for service in ("", "arca.liveness"):
            out = subprocess.run(
                [grpcurl, "-plaintext", "-d", json.dumps({"service": service}),
                 f"127.0.0.1:{grpc_port}", "grpc.health.v1.Health/Check"],
                capture_output=True, text=True,
            )
            if '"SERVING"' not in out.stdout:
                fail(f"{name}: health for {service!r}: {out.stdout}{out.stderr}")
        stats = subprocess.run(
            [grpcurl, "-plaintext", "-H", f"authorization: Bearer {admin_secret}",
             f"127.0.0.1:{grpc_port}", "arca.v1.AdminService/GetStats"],
            capture_output=True, text=True,
        )
        if '"reachable": true' not in stats.stdout:
            fail(f"{name}: GetStats with the Secret's admin key: {stats.stdout}{stats.stderr}")
        body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
        if "arca_requests_total" not in body:
            fail(f"{name}: /metrics lacks arca_requests_total")
        if tomllib.loads(localized).get("metadata", {}).get("engine") == "postgres":
            check_second_replica(name, binary, grpcurl, args, localized, admin_secret, workdir, grpc_port)
        stop_server(name, server)
    finally:
        if server.poll() is None:
            server.kill()


def main():
    if len(sys.argv) != 3:
        fail("usage: check.py ARCA_SERVER_BINARY GRPCURL")
    binary, grpcurl = sys.argv[1], sys.argv[2]
    if shutil.which("kubectl") is None:
        print("deploy check SKIPPED: kubectl is not installed, so the overlays cannot be rendered")
        return
    for overlay in sorted(p for p in OVERLAYS.iterdir() if p.is_dir()):
        name = overlay.name
        with tempfile.TemporaryDirectory(prefix=f"arca-deploy-{name}-") as tmp:
            workdir = pathlib.Path(tmp)
            rendered = render(overlay)
            validate(name, rendered, workdir)
            docs = list(yaml.safe_load_all(rendered))
            config_map = one(docs, "ConfigMap")
            text = config_map["data"]["config.toml"]
            config, args, secret_mount = cross_check(name, docs, text)
            grpc_port, metrics_port = free_port(), free_port()
            localized = localize(text, workdir, secret_mount, grpc_port, metrics_port)
            if localized is None:
                print(f"deploy check {name}: rendered, validated, cross-checked; not started "
                      "(no ARCA_TEST_S3_ENDPOINT or ARCA_TEST_POSTGRES_URL)")
                continue
            admin_secret = make_secrets(workdir, config, secret_mount)
            if any(b.get("kind") == "s3" for b in config.get("backends", {}).values()):
                ensure_bucket(config)
            run_server(name, binary, grpcurl, args, localized, admin_secret, workdir, grpc_port, metrics_port)
            print(f"deploy check {name}: rendered, validated (--strict, Kubernetes {KUBERNETES_VERSION}), cross-checked, started and stopped")


if __name__ == "__main__":
    main()
