/** A bundle: one uploaded version of a project's code, with what introspection found in it. */
import type { BundleManifest } from '@jobcenter/job-api';

export type { BundleManifest };

/** One exported value of a bundle's main module, found by introspection. */
export interface BundleExport {
  name: string;
  type: 'job' | 'resolver';
}

export interface BundleRecord {
  id: number;
  projectId: number;
  /** 1, 2, 3… per project: each upload is a new version. */
  version: number;
  sha256: string;
  size: number;
  manifest: BundleManifest;
  exports: BundleExport[];
  /** Absolute path of the extracted folder. */
  dir: string;
  createdBy: number | null;
  createdAt: Date;
}
