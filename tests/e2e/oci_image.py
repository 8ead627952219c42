#!/usr/bin/python3
"""Write an OCI image-layout tarball of Debian's busybox-static, for tests
that need an image without a registry.

    oci_image.py [--docker-archive [--gzip] [--broken missing|diff]] [--marker TEXT]
                 OUT.tar NAME [ENTRYPOINT...]

One uncompressed layer: /bin/busybox and its applet links (from
`busybox --list-full`); config Cmd ["sh"] unless an entrypoint is given;
index.json names the image with io.containerd.image.name (NAME, e.g.
docker.io/library/busybox:e2e) and org.opencontainers.image.ref.name.

--docker-archive writes what `docker save` writes instead: manifest.json
([{Config, RepoTags: [NAME], Layers}]), <config hex>.json,
<layer hex>/layer.tar (plus VERSION and json, as older Docker does) and
`repositories`; NAME may be short ("busybox:da"), as docker's RepoTags are.
--gzip stores the layer gzip-compressed (the diff_id stays the digest of
the tar). --marker puts TEXT into /etc/k3c-marker, so the layer differs
from the OCI image's and a container can tell which image it runs.
--broken writes a docker-archive an import must refuse: `missing` leaves
the layer out, `diff` gives the config a wrong diff_id."""
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def add(tar, name, data=None, mode=0o644, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname, info.mtime = mode, kind, link, 0
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def layer_bytes(marker=None):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        dirs = set()
        applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                                 text=True).stdout.split()
        for d in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "tmp", "etc"]:
            add(t, d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
            dirs.add(d)
        with open(BUSYBOX, "rb") as f:
            add(t, "bin/busybox", f.read(), 0o755)
        for a in applets:
            if a == "bin/busybox" or a.count("/") == 0:
                continue
            parent = a.rsplit("/", 1)[0]
            if parent not in dirs:
                continue
            add(t, a, kind=tarfile.SYMTYPE, link="/bin/busybox", mode=0o777)
        if marker is not None:
            add(t, "etc/k3c-marker", (marker + "\n").encode())
    return out.getvalue()


def docker_archive(out, name, cfgb, layer, compress, broken):
    """docker save's layout (moby image/tarexport, format before Docker 25)."""
    blob = gzip.compress(layer, mtime=0) if compress else layer
    cdig = hashlib.sha256(cfgb).hexdigest()
    ldir = hashlib.sha256(blob + b"layer-id").hexdigest()  # a v1 layer ID, any hex does
    manifest = [{"Config": cdig + ".json", "RepoTags": [name], "Layers": [ldir + "/layer.tar"]}]
    repo, tag = name.rsplit(":", 1)
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
        add(t, ldir, kind=tarfile.DIRTYPE, mode=0o755)
        add(t, ldir + "/VERSION", b"1.0")
        add(t, ldir + "/json", json.dumps({"id": ldir}).encode())
        if broken != "missing":
            add(t, ldir + "/layer.tar", blob)
        add(t, cdig + ".json", cfgb)
        add(t, "manifest.json", json.dumps(manifest).encode())
        add(t, "repositories", json.dumps({repo: {tag: ldir}}).encode())


def main():
    args = sys.argv[1:]
    docker = compress = False
    marker = broken = None
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--docker-archive":
            docker = True
        elif opt == "--gzip":
            compress = True
        elif opt == "--broken":
            broken = args.pop(0)
        elif opt == "--marker":
            marker = args.pop(0)
        else:
            sys.exit("oci_image.py: unknown option " + opt)
    out, name = args[0], args[1]
    entry = args[2:]
    arch = ARCH.get(subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip(), "amd64")
    layer = layer_bytes(marker)
    ldig = hashlib.sha256(layer).hexdigest()
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/"},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ldig]}}
    if entry:
        cfg["config"]["Entrypoint"] = entry
    else:
        cfg["config"]["Cmd"] = ["sh"]
    if broken == "diff":
        cfg["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(b"not the layer").hexdigest()]
    cfgb = json.dumps(cfg).encode()
    if docker:
        docker_archive(out, name, cfgb, layer, compress, broken)
        return
    cdig = hashlib.sha256(cfgb).hexdigest()
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": "sha256:" + cdig, "size": len(cfgb)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": "sha256:" + ldig, "size": len(layer)}]}
    manb = json.dumps(man).encode()
    mdig = hashlib.sha256(manb).hexdigest()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + mdig,
        "size": len(manb),
        "annotations": {"io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
        "platform": {"architecture": arch, "os": "linux"}}]}
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
        add(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add(t, "index.json", json.dumps(index).encode())
        add(t, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        add(t, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        for dig, data in ((mdig, manb), (cdig, cfgb), (ldig, layer)):
            add(t, "blobs/sha256/" + dig, data)


if __name__ == "__main__":
    main()
