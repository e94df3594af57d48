-- espfab store, schema version 3: a product's firmware images.
-- A product may carry the images of an ESP-IDF build (flasher_args.json):
-- written to every device before its record is claimed. Like the NVS
-- template they are fixed when the product is defined: a device provisioned
-- today must get the bytes one provisioned yesterday got.

-- The chip the images are built for ("esp32s3", '' = no images), and how
-- many images the product has: store_product_add() sets both in the same
-- INSERT and adds exactly that many images in the same transaction.
ALTER TABLE products ADD COLUMN chip TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN n_images INTEGER NOT NULL DEFAULT 0 CHECK (n_images >= 0);

CREATE TABLE product_images (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	flash_offset INTEGER NOT NULL CHECK (flash_offset >= 0 AND flash_offset % 4096 = 0),
	name TEXT NOT NULL,                 -- the flash target ("app") or the file
	file TEXT NOT NULL,                 -- as flasher_args.json names it
	size INTEGER NOT NULL CHECK (size > 0),
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	data BLOB NOT NULL CHECK (length(data) = size),
	UNIQUE (product_id, flash_offset)
) STRICT;

-- Immutable: the set is complete once the product's transaction has added
-- n_images rows, so no later INSERT (OR REPLACE, which SQLite would run as
-- a DELETE without firing a DELETE trigger) gets past this one.
CREATE TRIGGER product_images_fixed BEFORE INSERT ON product_images
WHEN (SELECT count(*) FROM product_images WHERE product_id = NEW.product_id)
	>= coalesce((SELECT n_images FROM products WHERE id = NEW.product_id), 0)
BEGIN
	SELECT RAISE(ABORT, 'a product''s firmware images never change');
END;
CREATE TRIGGER product_images_no_update BEFORE UPDATE ON product_images
BEGIN
	SELECT RAISE(ABORT, 'a product''s firmware images never change');
END;
CREATE TRIGGER product_images_no_delete BEFORE DELETE ON product_images
BEGIN
	SELECT RAISE(ABORT, 'a product''s firmware images never change');
END;
CREATE TRIGGER products_firmware_fixed BEFORE UPDATE OF chip, n_images ON products
WHEN NEW.chip IS NOT OLD.chip OR NEW.n_images IS NOT OLD.n_images
BEGIN
	SELECT RAISE(ABORT, 'a product''s firmware images never change');
END;
