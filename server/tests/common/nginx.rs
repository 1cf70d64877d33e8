//! nginx in front of Tessera instances, on the configuration operators are given
//! (`deploy/nginx/tessera.conf`) with the caller's ports and a throwaway certificate put
//! in. Used by the cluster test and the load benchmark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx as a child process on the deploy configuration; stopped (SIGTERM to the master,
/// which stops its workers) when dropped.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is installed (cargo xtask test installs Debian's nginx)")
}

pub fn start_nginx(instances: &[u16], port: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let conf = deploy_conf(dir.path(), instances, port);
    run(dir, &conf, port)
}

/// Tessera (one instance) and a site behind its forward-auth gate, on one TLS port: the
/// deploy files `tessera.conf` and `protected-site.conf`, with `tessera.test` and
/// `wiki.tessera.test` for the names and `site` as the protected site's upstream.
pub fn start_gated(instance: u16, site: u16, port: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tessera = deploy_conf(d, &[instance, instance], port)
        .replace("tessera.clinic.example", "tessera.test");
    let mut gated = read_deploy("protected-site.conf");
    for (from, to) in [
        ("wiki.clinic.example", "wiki.tessera.test".to_string()),
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
        (
            "/etc/ssl/tessera/fullchain.pem",
            d.join("cert.pem").display().to_string(),
        ),
        (
            "/etc/ssl/tessera/privkey.pem",
            d.join("key.pem").display().to_string(),
        ),
        ("http://127.0.0.1:8080", format!("http://127.0.0.1:{site}")),
    ] {
        assert!(gated.contains(from), "the deploy file still has `{from}`");
        gated = gated.replace(from, &to);
    }
    run(dir, &format!("{tessera}\n{gated}"), port)
}

fn read_deploy(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/nginx")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// `tessera.conf` with the instances, the port and a new throwaway certificate in `d`.
fn deploy_conf(d: &Path, instances: &[u16], port: u16) -> String {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let mut conf = read_deploy("tessera.conf");
    let mut put = |from: &str, to: String| {
        assert!(conf.contains(from), "the deploy file still has `{from}`");
        conf = conf.replace(from, &to);
    };
    put(
        "server 127.0.0.1:3001",
        format!("server 127.0.0.1:{}", instances[0]),
    );
    put(
        "server 127.0.0.1:3002",
        format!("server 127.0.0.1:{}", instances[1]),
    );
    put("listen 80;", format!("listen 127.0.0.1:{};", free_port()));
    put("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;"));
    put(
        "/etc/ssl/tessera/fullchain.pem",
        d.join("cert.pem").display().to_string(),
    );
    put(
        "/etc/ssl/tessera/privkey.pem",
        d.join("key.pem").display().to_string(),
    );
    conf
}

/// nginx on `conf` (an `http` block's contents) in `dir`, until dropped.
fn run(dir: tempfile::TempDir, conf: &str, port: u16) -> Nginx {
    let d = dir.path();
    std::fs::write(d.join("tessera.conf"), conf).unwrap();
    let temp = |name: &str| format!("{name}_temp_path {}/{name};", d.display());
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  {} {} {} {} {}\n  include {d}/tessera.conf;\n}}\n",
        temp("client_body"),
        temp("proxy"),
        temp("fastcgi"),
        temp("uwsgi"),
        temp("scgi"),
        d = d.display()
    );
    std::fs::write(d.join("nginx.conf"), main).unwrap();
    let child = Command::new(nginx_binary())
        .arg("-p")
        .arg(d)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    Nginx {
        child,
        port,
        _dir: dir,
    }
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
