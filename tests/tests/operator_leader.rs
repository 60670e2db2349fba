//! Leader election through a real `coordination.k8s.io` Lease on the test kube-apiserver.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams};
use kyuta_operator::leader::LeaseLock;
use kyuta_tests::{kube_client, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_holder_at_a_time_and_takeover_after_release_or_expiry() {
    let client = kube_client().await;
    let name = unique_name("kyuta-lease");
    let a = LeaseLock::new(
        client.clone(),
        "default",
        &name,
        "replica-a",
        Duration::from_secs(3),
    );
    let b = LeaseLock::new(
        client.clone(),
        "default",
        &name,
        "replica-b",
        Duration::from_secs(3),
    );

    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "the first replica takes a free Lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "a held Lease is not taken"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "the holder renews");

    // Released: the other replica takes it at once.
    a.release().await;
    assert!(b.try_acquire_or_renew().await.unwrap());
    assert!(!a.try_acquire_or_renew().await.unwrap());

    // Expired: b stops renewing; after the Lease duration a takes over.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "an expired Lease is taken over"
    );
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let lease = leases.get(&name).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(spec.lease_transitions, Some(2));
    // `hold` returns (leadership lost) once another replica owns the Lease.
    let hold = tokio::spawn({
        let a = a.clone();
        async move { a.hold().await }
    });
    a.release().await;
    assert!(b.try_acquire_or_renew().await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), hold)
        .await
        .expect("hold notices the loss within a renewal period")
        .unwrap();
    leases
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}
