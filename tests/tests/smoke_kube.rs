//! Smoke test: the test environment's Kubernetes control plane works through the `kube`
//! crate: namespaces, CRDs, and a StatefulSet whose Pod the controller-manager creates.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kyuta_tests::{apply_crd, eventually, kube_client, unique_name};
use serde_json::json;

const FIELD_MANAGER: &str = "kyuta-smoke";

async fn create_namespace(client: &kube::Client) -> String {
    let name = unique_name("kyuta-smoke");
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "kyuta.dev/test": "smoke" } }
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    name
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn namespace_can_be_created_and_read() {
    let client = kube_client().await;
    let name = create_namespace(&client).await;
    let ns = Api::<Namespace>::all(client.clone())
        .get(&name)
        .await
        .unwrap();
    assert_eq!(
        ns.metadata
            .labels
            .unwrap()
            .get("kyuta.dev/test")
            .map(String::as_str),
        Some("smoke")
    );
    delete_namespace(&client, &name).await;
}

#[tokio::test]
async fn crd_is_applied_established_and_serves_objects() {
    let client = kube_client().await;
    let _crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "smokewidgets.smoke.kyuta.dev" },
        "spec": {
            "group": "smoke.kyuta.dev",
            "scope": "Namespaced",
            "names": { "plural": "smokewidgets", "singular": "smokewidget", "kind": "SmokeWidget" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "required": ["shards"],
                        "properties": { "shards": { "type": "integer", "minimum": 1 } }
                    } }
                } }
            }]
        }
    }))
    .unwrap();
    apply_crd(&client, &crd, FIELD_MANAGER).await;

    let ns = create_namespace(&client).await;
    let gvk = GroupVersionKind::gvk("smoke.kyuta.dev", "v1", "SmokeWidget");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "smokewidgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let valid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "smoke.kyuta.dev/v1", "kind": "SmokeWidget",
        "metadata": { "name": "w" }, "spec": { "shards": 4 }
    }))
    .unwrap();
    // Creating the first object can race the discovery of a just-established CRD.
    let created = eventually("custom object creation", Duration::from_secs(30), || {
        let widgets = widgets.clone();
        let valid = valid.clone();
        async move { widgets.create(&PostParams::default(), &valid).await.ok() }
    })
    .await;
    assert_eq!(created.data["spec"]["shards"], 4);

    // The schema is enforced by the server.
    let invalid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "smoke.kyuta.dev/v1", "kind": "SmokeWidget",
        "metadata": { "name": "bad" }, "spec": { "shards": 0 }
    }))
    .unwrap();
    let err = widgets
        .create(&PostParams::default(), &invalid)
        .await
        .expect_err("shards: 0 violates minimum: 1");
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 422, "{status:?}"),
        other => panic!("expected a 422 from the apiserver, got {other:?}"),
    }
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn statefulset_gets_its_pod_from_the_controller_manager() {
    let client = kube_client().await;
    let ns = create_namespace(&client).await;
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "shards" },
        "spec": {
            "replicas": 2,
            "serviceName": "shards",
            "podManagementPolicy": "Parallel",
            "selector": { "matchLabels": { "app": "kyuta-smoke" } },
            "template": {
                "metadata": { "labels": { "app": "kyuta-smoke" } },
                "spec": { "containers": [{ "name": "c", "image": "kyuta-smoke.invalid/none:0" }] }
            }
        }
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &sts)
        .await
        .unwrap();

    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let names = eventually(
        "Pods shards-0 and shards-1 (created by kube-controller-manager)",
        Duration::from_secs(90),
        || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels("app=kyuta-smoke"))
                    .await
                    .ok()?;
                let mut names: Vec<String> = list
                    .items
                    .into_iter()
                    .filter_map(|p| p.metadata.name)
                    .collect();
                names.sort();
                (names.len() == 2).then_some(names)
            }
        },
    )
    .await;
    assert_eq!(names, vec!["shards-0".to_owned(), "shards-1".to_owned()]);
    let pod = pods.get("shards-0").await.unwrap();
    let owner = &pod.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("StatefulSet", "shards")
    );
    delete_namespace(&client, &ns).await;
}
