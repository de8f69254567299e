//! Opening a PostgreSQL store without creating one: a read-only open of a database without
//! hone's schema runs no migration, and a database with another program's `runs` table is
//! refused.

use hone_track::{OpenMode, open_store_with};

#[test]
fn postgres_must_exist_runs_no_migration_and_foreign_tables_are_refused() {
    let cluster = hone_test_support::PgCluster::start();
    let uri = cluster.uri.as_str();
    for _ in 0..2 {
        // Twice: the first refusal must not have created the schema.
        let e = open_store_with(uri, OpenMode::MustExist).err().unwrap();
        assert!(e.to_string().contains("holds no hone schema"), "{e}");
    }
    let mut client = postgres::Client::connect(uri, postgres::NoTls).unwrap();
    let tables = client
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap();
    assert!(tables.is_empty(), "a read-only open created tables");
    client
        .batch_execute("CREATE TABLE runs (x TEXT); CREATE TABLE unrelated (y TEXT)")
        .unwrap();
    for mode in [OpenMode::Create, OpenMode::MustExist] {
        let e = open_store_with(uri, mode).err().unwrap().to_string();
        assert!(e.contains("not a hone store"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
    // Another program's tables with other names may share the database.
    client.batch_execute("DROP TABLE runs").unwrap();
    drop(open_store_with(uri, OpenMode::Create).unwrap());
    let store = open_store_with(uri, OpenMode::MustExist).unwrap();
    assert!(store.get_experiment_by_name("none").unwrap().is_none());
}
