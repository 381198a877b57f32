//! The test command started every emulator the suite needs, and they answer.
//! Each test fails (never skips) when its emulator is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn request(addr: &str, payload: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| {
        panic!(
            "cannot reach {addr}: {e}; {}",
            switchyard_testkit::HOW_TO_RUN
        )
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(payload).unwrap();
    let mut buf = vec![0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn moto_server_answers_on_aws_endpoint_url() {
    let endpoint = switchyard_testkit::aws_endpoint();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "emulators bind loopback only: {endpoint}"
    );
    let addr = host_port(&endpoint);
    let reply = request(
        &addr,
        format!("GET /moto-api/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(
        reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"),
        "{reply}"
    );
}

#[test]
fn redis_server_answers_on_redis_url() {
    let url = switchyard_testkit::redis_url();
    assert!(
        url.starts_with("redis://127.0.0.1:"),
        "emulators bind loopback only: {url}"
    );
    let reply = request(&host_port(&url), b"PING\r\n");
    assert_eq!(reply, "+PONG\r\n");
}
