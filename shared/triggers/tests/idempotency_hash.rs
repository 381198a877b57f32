//! The pipeline hashes typed payloads without building a `Value`
//! (`IdempotencyConfig::hash_serialized`); for every contract's example it
//! is the same hash as the `Value` path, so records written before and
//! after this change validate each other.

use switchyard_contracts::Event;
use switchyard_contracts::events::{
    CustomerUpdatedV1, ErpOrderSyncedV1, OrderPlacedV1, OrderPlacedV2,
};
use switchyard_idempotency::IdempotencyConfig;

fn same_hash<T: Event>() {
    let example = T::example().unwrap_or_else(|| panic!("{} has an example", T::TYPE));
    let config = IdempotencyConfig::for_function("hash-test");
    let typed = config.hash_serialized(&example).expect("serialise");
    let value = config.hash_payload(&serde_json::to_value(&example).expect("to_value"));
    assert!(typed.is_some(), "{}", T::TYPE);
    assert_eq!(typed, value, "{} v{}", T::TYPE, T::VERSION);
}

#[test]
fn every_contract_hashes_the_same_on_both_paths() {
    same_hash::<OrderPlacedV1>();
    same_hash::<OrderPlacedV2>();
    same_hash::<CustomerUpdatedV1>();
    same_hash::<ErpOrderSyncedV1>();
}
