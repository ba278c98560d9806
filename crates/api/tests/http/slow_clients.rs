//! Slow clients cannot hold the server: a client that never finishes its
//! headers is cut off, and many of them do not keep a normal request from
//! being answered.

use std::time::Duration;

use recofinement_api::server::ServerLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db_test;
use crate::support::{ServerOptions, TestServer};

/// Opens a connection that sends half a request and stalls.
async fn stalled(server: &TestServer) -> TcpStream {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

db_test!(slow_clients_are_cut_off_and_do_not_block_others, |app| {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 32,
        ..ServerLimits::default()
    };
    let options = ServerOptions {
        limits: Some(limits),
        ..ServerOptions::default()
    };
    let server = TestServer::start(app.db.clone(), options).await;
    let mut slow = Vec::new();
    for _ in 0..100 {
        slow.push(stalled(&server).await);
    }
    // A normal request is answered although slow clients hold every slot
    // for a moment (the bound only turns a hang into a failure).
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        server.client.get(server.url("/health")).send(),
    )
    .await
    .expect("answered while slow clients wait")
    .unwrap();
    assert_eq!(answer.status(), 200);
    // Each stalled connection is closed by the server (EOF, or a 408).
    for stream in &mut slow {
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buffer))
            .await
            .expect("the server closes a connection whose headers never end");
        assert!(read.is_ok() || buffer.is_empty());
    }
});
