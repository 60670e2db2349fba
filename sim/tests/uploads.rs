//! Files uploaded with messages: `multipart/form-data` with `payload_json` and `files[n]`, as
//! Discord reads it, from a raw client and from twilight-http. Every response is checked
//! against Discord's OpenAPI spec.

mod common;

use common::gw::{Gw, INTENTS};
use common::world::*;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kyuta_sim::Sim;
use serde_json::{Value, json};

const ATTACH_FILES: u64 = 1 << 15;
const BOUNDARY: &str = "kyuta-test-boundary-2f9a";

/// A file part: `files[index]`, its name, content type and bytes.
struct Part<'a> {
    index: u64,
    filename: &'a str,
    content_type: &'a str,
    bytes: &'a [u8],
}

fn multipart_body(payload: &Value, files: &[Part<'_>]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\
             Content-Type: application/json\r\n\r\n{payload}\r\n"
        )
        .as_bytes(),
    );
    for f in files {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[{}]\"; \
                 filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                f.index, f.filename, f.content_type
            )
            .as_bytes(),
        );
        b.extend_from_slice(f.bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// A multipart REST call (`auth`: with the bot token); the response is checked against the
/// spec.
async fn upload(
    sim: &Sim,
    method: &str,
    path: &str,
    payload: &Value,
    files: &[Part<'_>],
    auth: bool,
) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{}/api/v10{path}", sim.api_url()))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
    if auth {
        req = req.header("authorization", format!("Bot {TOKEN}"));
    }
    let body = Bytes::from(multipart_body(payload, files));
    let resp = client
        .request(req.body(Full::new(body)).unwrap())
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let raw = resp.into_body().collect().await.unwrap().to_bytes();
    spec::check(method, path, status, &headers, &raw);
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    }
}

/// A `text/plain` file part.
fn text_file<'a>(index: u64, filename: &'a str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        index,
        filename,
        content_type: "text/plain",
        bytes,
    }
}

/// A tiny PNG header of `w` × `h` (enough for Discord, and the simulator, to read its size).
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b
}

/// The bytes the simulator kept for attachment `a`.
async fn kept(sim: &Sim, a: &Value) -> Resp {
    ctl(
        sim,
        "GET",
        &format!("/attachments/{}", a["id"].as_str().unwrap()),
        None,
    )
    .await
}

#[tokio::test]
async fn a_message_with_files_carries_them_as_attachments_and_dispatches_them() {
    let sim = sim(1).await;
    let (mut gw, _) = Gw::ready(&sim, None, [0, 1], INTENTS).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    let chart = png(640, 320);
    let r = upload(
        &sim,
        "POST",
        &format!("/channels/{general}/messages"),
        &json!({"content": "the week", "attachments": [
            {"id": 0, "filename": "week.png", "description": "messages per day"}
        ]}),
        &[
            Part {
                index: 0,
                filename: "chart.png",
                content_type: "image/png",
                bytes: &chart,
            },
            Part {
                index: 1,
                filename: "raw.csv",
                content_type: "",
                bytes: b"day,messages\nmon,3\n",
            },
        ],
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.body["attachments"].as_array().unwrap();
    assert_eq!(
        a.len(),
        2,
        "every file is attached, named in attachments or not"
    );
    // The entry's filename and description win over the part's.
    assert_eq!(a[0]["filename"], "week.png");
    assert_eq!(a[0]["description"], "messages per day");
    assert_eq!(a[0]["size"], chart.len());
    assert_eq!(a[0]["content_type"], "image/png");
    assert_eq!(
        (a[0]["width"].clone(), a[0]["height"].clone()),
        (json!(640), json!(320))
    );
    let id = a[0]["id"].as_str().unwrap();
    assert_eq!(
        a[0]["url"],
        format!("https://cdn.discordapp.com/attachments/{general}/{id}/week.png")
    );
    // A part without a content type gets one from its extension; not an image: no size.
    assert_eq!(a[1]["filename"], "raw.csv");
    assert_eq!(a[1]["content_type"], "text/csv; charset=utf-8");
    assert!(a[1].get("width").is_none());
    // The bytes are kept as sent.
    let back = kept(&sim, &a[0]).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.headers["content-type"], "image/png");
    assert_eq!(back.raw.as_ref(), chart.as_slice());
    let ev = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(ev["d"]["attachments"], r.body["attachments"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn upload_limits_are_discords() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let path = format!("/channels/{}/messages", channel_id(&g, "general"));
    // A file over 10 MiB: 413, 40005.
    let big = vec![0u8; 10 * 1024 * 1024 + 1];
    let r = upload(
        &sim,
        "POST",
        &path,
        &json!({}),
        &[Part {
            index: 0,
            filename: "big.bin",
            content_type: "application/octet-stream",
            bytes: &big,
        }],
        true,
    )
    .await;
    assert_eq!((r.status, code(&r)), (413, 40005), "{}", r.body);
    // Eleven files: 50035 under files.
    let parts: Vec<Part<'_>> = (0..11).map(|i| text_file(i, "a.txt", b"a")).collect();
    let r = upload(&sim, "POST", &path, &json!({}), &parts, true).await;
    assert_eq!(code(&r), 50035, "{}", r.body);
    assert!(r.body["errors"]["files"].is_object(), "{}", r.body);
    // An entry naming files[3] when no such part was sent: 50035 at attachments.0.id.
    let r = upload(
        &sim,
        "POST",
        &path,
        &json!({"attachments": [{"id": 3}]}),
        &[text_file(0, "a.txt", b"a")],
        true,
    )
    .await;
    assert_eq!(code(&r), 50035, "{}", r.body);
    assert!(
        r.body["errors"]["attachments"]["0"]["id"].is_object(),
        "{}",
        r.body
    );
    // Nothing was posted by the refused requests.
    let listed = api(&sim, "GET", &format!("{path}?limit=10"), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 0, "{}", listed.body);
    // Files alone are a message; no files and no content is 50006, as before.
    let r = upload(
        &sim,
        "POST",
        &path,
        &json!({}),
        &[text_file(0, "a.txt", b"a")],
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = upload(&sim, "POST", &path, &json!({}), &[], true).await;
    assert_eq!(code(&r), 50006, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn files_in_a_channel_need_attach_files() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general = channel_id(&g, "general");
    // Deny ATTACH_FILES to @everyone, and so to the bot, in #general.
    let r = api(
        &sim,
        "PUT",
        &format!("/channels/{general}/permissions/{}", gid(&g)),
        Some(&json!({"type": 0, "deny": ATTACH_FILES.to_string()})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let path = format!("/channels/{general}/messages");
    let file = [text_file(0, "a.txt", b"a")];
    let r = upload(&sim, "POST", &path, &json!({"content": "x"}), &file, true).await;
    assert_eq!((r.status, code(&r)), (403, 50013), "{}", r.body);
    // Text alone still goes through.
    let r = upload(&sim, "POST", &path, &json!({"content": "x"}), &[], true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_edit_keeps_the_attachments_it_names_and_adds_its_files() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let path = format!("/channels/{}/messages", channel_id(&g, "general"));
    let r = upload(
        &sim,
        "POST",
        &path,
        &json!({"content": "two"}),
        &[text_file(0, "a.txt", b"a"), text_file(1, "b.txt", b"bb")],
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mid = r.body["id"].as_str().unwrap().to_owned();
    let first = r.body["attachments"][0].clone();
    // An edit without attachments or files leaves them alone.
    let r = api(
        &sim,
        "PATCH",
        &format!("{path}/{mid}"),
        Some(&json!({"content": "edited"})),
    )
    .await;
    assert_eq!(r.body["attachments"].as_array().unwrap().len(), 2);
    // Keep a.txt only, and add c.txt.
    let r = upload(
        &sim,
        "PATCH",
        &format!("{path}/{mid}"),
        &json!({"attachments": [{"id": first["id"]}, {"id": 0}]}),
        &[text_file(0, "c.txt", b"ccc")],
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "c.txt"]);
    assert_eq!(r.body["attachments"][0], first);
    // `attachments: []` removes them all.
    let r = api(
        &sim,
        "PATCH",
        &format!("{path}/{mid}"),
        Some(&json!({"attachments": []})),
    )
    .await;
    assert_eq!(r.body["attachments"], json!([]), "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn interaction_responses_and_followups_take_files() {
    let sim = sim(1).await;
    let (_, it) = ban_interaction(&sim, None).await;
    let (id, token) = id_token(&it);
    let chart = png(200, 100);
    let r = upload(
        &sim,
        "POST",
        &format!("/interactions/{id}/{token}/callback?with_response=true"),
        &json!({"type": 4, "data": {"attachments": [{"id": 0, "filename": "c.png"}]}}),
        &[Part {
            index: 0,
            filename: "chart.png",
            content_type: "image/png",
            bytes: &chart,
        }],
        false,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let message = &r.body["resource"]["message"];
    assert_eq!(message["attachments"][0]["filename"], "c.png", "{}", r.body);
    assert_eq!(message["attachments"][0]["width"], 200);
    assert_eq!(
        kept(&sim, &message["attachments"][0]).await.raw.as_ref(),
        chart.as_slice()
    );
    // A followup with a file.
    let app = sim.bot_id();
    let r = upload(
        &sim,
        "POST",
        &format!("/webhooks/{app}/{token}"),
        &json!({"content": "raw data"}),
        &[text_file(0, "raw.txt", b"1,2,3")],
        false,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attachments"][0]["size"], 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn twilight_http_uploads_unmodified() {
    let sim = sim(1).await;
    let g = guild0(&sim).await;
    let general: u64 = channel_id(&g, "general").parse().unwrap();
    let http = twilight_http(&sim);
    let chart = png(64, 48);
    let files = [twilight_model::http::attachment::Attachment::from_bytes(
        "chart.png".to_owned(),
        chart.clone(),
        7,
    )];
    let m = http
        .create_message(twilight_model::id::Id::new(general))
        .content("chart")
        .attachments(&files)
        .await
        .expect("twilight's multipart body is accepted")
        .model()
        .await
        .unwrap();
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename, "chart.png");
    assert_eq!(m.attachments[0].size, chart.len() as u64);
    assert_eq!(
        (m.attachments[0].width, m.attachments[0].height),
        (Some(64), Some(48))
    );
    sim.shutdown().await;
}
