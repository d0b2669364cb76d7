-- Display currency: each user's choice of USD or CNY for amounts in the browser, and the
-- instance's USD->CNY rate in ten-thousandths (7.2 -> 72000; NULL: the CNY_PER_USD default).
-- Amounts themselves stay integer micro-USD everywhere.

ALTER TABLE users ADD COLUMN currency VARCHAR(3) NOT NULL DEFAULT 'USD';
ALTER TABLE users ADD CONSTRAINT users_currency CHECK (currency IN ('USD', 'CNY'));

ALTER TABLE instance ADD COLUMN cny_per_usd_e4 BIGINT NULL;
ALTER TABLE instance ADD COLUMN cny_per_usd_updated_by BIGINT NULL;
ALTER TABLE instance ADD COLUMN cny_per_usd_updated_at BIGINT NULL;
ALTER TABLE instance ADD CONSTRAINT instance_cny_per_usd CHECK (cny_per_usd_e4 > 0);
