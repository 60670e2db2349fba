//! Smoke test: the test environment's MongoDB wire server (FerretDB) works through the
//! `mongodb` crate for the operations the worker relies on.

use kyuta_tests::{mongo_client, unique_name};
use mongodb::bson::{Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Database, IndexModel};

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

async fn fresh_db() -> Database {
    mongo_client()
        .await
        .database(&unique_name("kyuta_smoke").replace('-', "_"))
}

#[tokio::test]
async fn insert_then_find() {
    let db = fresh_db().await;
    let coll = db.collection::<Document>("cases");
    let id = coll
        .insert_one(doc! { "guild": 42_i64, "reason": "spam" })
        .await
        .unwrap()
        .inserted_id;
    let found = coll.find_one(doc! { "_id": id }).await.unwrap().unwrap();
    assert_eq!(found.get_i64("guild").unwrap(), 42);
    assert_eq!(found.get_str("reason").unwrap(), "spam");
    db.drop().await.unwrap();
}

#[tokio::test]
async fn find_one_and_update_inc_with_upsert_counts() {
    let db = fresh_db().await;
    let coll = db.collection::<Document>("counters");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let after = coll
            .find_one_and_update(doc! { "_id": "case:42" }, doc! { "$inc": { "n": 1_i64 } })
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .unwrap()
            .expect("upsert returns the document after the update");
        seen.push(after.get_i64("n").unwrap());
    }
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    db.drop().await.unwrap();
}

#[tokio::test]
async fn unique_index_violation_is_a_typed_duplicate_key_error() {
    let db = fresh_db().await;
    let coll = db.collection::<Document>("actions");
    coll.create_index(
        IndexModel::builder()
            .keys(doc! { "guild": 1, "action_id": 1 })
            .options(IndexOptions::builder().unique(true).build())
            .build(),
    )
    .await
    .unwrap();
    coll.insert_one(doc! { "guild": 1_i64, "action_id": "ban-7" })
        .await
        .unwrap();
    let err = coll
        .insert_one(doc! { "guild": 1_i64, "action_id": "ban-7" })
        .await
        .expect_err("a second insert with the same unique key must fail");
    match *err.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) => {
            assert_eq!(w.code, DUPLICATE_KEY, "unexpected write error: {w:?}");
        }
        ref other => panic!("expected a duplicate-key write error, got {other:?}"),
    }
    // A different key still goes in: the index is on the pair, not on each field.
    coll.insert_one(doc! { "guild": 2_i64, "action_id": "ban-7" })
        .await
        .unwrap();
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);
    db.drop().await.unwrap();
}
