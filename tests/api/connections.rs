//! `graphgate serve` under slow and idle clients: heads and bodies that never finish, and
//! kept-alive connections left open, cannot starve other clients.

use std::time::Duration;

use graphgate::config::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::*;

fn host_of(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection, or `within` passes; what was read, and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), false),
        }
    }
}

#[tokio::test]
async fn normal_requests_are_answered_while_300_slow_connections_are_open() {
    let app = spawn_app_with(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_secs(30),
            ..ConnectionLimits::default()
        },
        ..Options::default()
    })
    .await;
    let host = host_of(&app);
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        stream
            .write_all(b"POST /v1/changes HTTP/1.1\r\nHost: graphgate\r\nContent-Type: appl")
            .await
            .unwrap();
        slow.push(stream);
    }
    for _ in 0..20 {
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            app.http.get(format!("{}/healthz", app.address)).send(),
        )
        .await
        .expect("answered while the slow connections are open")
        .unwrap();
        assert_eq!(response.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(slow.len(), 300);
}

#[tokio::test]
async fn a_head_sent_too_slowly_and_an_idle_connection_are_closed() {
    let app = spawn_app_with(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_millis(500),
            ..ConnectionLimits::default()
        },
        ..Options::default()
    })
    .await;
    let host = host_of(&app);

    let mut slow = TcpStream::connect(&host).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: g")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(
        closed,
        "a head not finished within the timeout ends the connection"
    );

    let mut idle = TcpStream::connect(&host).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed,
        "a kept-alive connection idle past the timeout is closed"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_a_400_and_no_graph_call() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(host_of(&app)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/changes HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: 60\r\n\r\n{{\"action\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("unreadable-body"), "{answer}");
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn serve_with_a_soft_limit_of_256_files_outlasts_300_slow_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new("bash");
    command.args([
        "-c",
        r#"ulimit -Sn 256 && exec "$0" serve --simulate --listen 127.0.0.1:0"#,
        env!("CARGO_BIN_EXE_graphgate"),
    ]);
    let (_serve, lines) = start_command(command, dir.path(), &[], |lines| {
        after(lines, "graphgate listening on ").is_some()
    });
    let address = after(&lines, "graphgate listening on ").unwrap().to_owned();
    let host = address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        stream
            .write_all(b"POST /v1/changes HTTP/1.1\r\nHost: graphgate\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let http = reqwest::Client::new();
    for _ in 0..10 {
        let response = tokio::time::timeout(
            Duration::from_secs(3),
            http.get(format!("{address}/healthz")).send(),
        )
        .await
        .expect("answered while 300 slow connections are open")
        .unwrap();
        assert_eq!(response.status(), 200);
    }
}
