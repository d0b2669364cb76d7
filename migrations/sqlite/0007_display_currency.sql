-- Display currency: each user's choice of USD or CNY for amounts in the browser, and the
-- instance's USD->CNY rate in ten-thousandths (7.2 -> 72000; NULL: the CNY_PER_USD default).
-- Amounts themselves stay integer micro-USD everywhere.

ALTER TABLE users ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD' CHECK (currency IN ('USD', 'CNY'));

ALTER TABLE instance ADD COLUMN cny_per_usd_e4 INTEGER NULL CHECK (cny_per_usd_e4 > 0);
ALTER TABLE instance ADD COLUMN cny_per_usd_updated_by INTEGER NULL;
ALTER TABLE instance ADD COLUMN cny_per_usd_updated_at INTEGER NULL;
