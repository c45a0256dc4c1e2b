// Command sqliteonly opens the SQLite driver and nothing else: the modules
// it links are the SQLite driver's, which the footprint check leaves out of
// both programs' counts.
package main

import (
	"database/sql"
	"log"

	_ "modernc.org/sqlite"
)

func main() {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}
