//! ClamAV's clamd for the malware scan's tests, as an operator runs it but on loopback: Debian's
//! `clamd` binary in the foreground with a configuration of its own (`clamd -c`), a TCP port of
//! its own, and a signature database the test writes: the EICAR test file's MD5 (there is no
//! network for `freshclam`, and clamd will not start without a database). Stopped, and its
//! directory removed, when dropped; [`Clamd::stop`] and [`Clamd::restart`] take it away and bring
//! it back on the same port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::Digest;

/// The EICAR anti-malware test file: harmless, and detected by every scanner.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Its signature as the test's database names it (clamd adds `.UNOFFICIAL`).
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature";

pub struct Clamd {
    program: PathBuf,
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl Clamd {
    /// clamd on a free port; `None` (the test skips) where it is not installed.
    pub fn start() -> Option<Self> {
        let program = super::tools::clamd()?;
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir =
            std::env::temp_dir().join(format!("clamd-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let md5: String = md5::Md5::digest(EICAR).iter().map(|b| format!("{b:02x}")).collect();
        let signature = format!("{md5}:{}:{EICAR_SIGNATURE}\n", EICAR.len());
        std::fs::write(dir.join("db/eicar.hdb"), signature).unwrap();
        let config = format!(
            "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {db}\n\
             LogFile {dir}/clamd.log\nTemporaryDirectory {dir}\nStreamMaxLength 64M\n\
             AlertExceedsMax yes\n",
            db = dir.join("db").display(),
            dir = dir.display(),
        );
        std::fs::write(dir.join("clamd.conf"), config).unwrap();
        let mut clamd = Self { program, child: None, port, dir };
        clamd.restart();
        Some(clamd)
    }

    /// Where the service reaches it (`UPLOAD_CLAMD_ADDR`).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again), and waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(&self.program)
            .arg("-c")
            .arg(self.dir.join("clamd.conf"))
            .stdout(Stdio::null())
            .spawn()
            .expect("clamd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while clamav_client::ping(clamav_client::Tcp { host_address: self.addr() })
            .map_or(true, |answer| answer != clamav_client::PONG)
        {
            let log = std::fs::read_to_string(self.dir.join("clamd.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "clamd did not start on port {}: {log}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
