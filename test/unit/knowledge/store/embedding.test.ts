import { vectorLiteral } from '#knowledge/store/embedding';
import { KnowledgeStoreError } from '#knowledge/store/knowledge-store-error';

function failure(run: () => unknown): KnowledgeStoreError {
  try {
    run();
  } catch (error) {
    if (error instanceof KnowledgeStoreError) return error;
    throw error;
  }
  throw new Error('expected a KnowledgeStoreError');
}

describe('vectorLiteral', () => {
  it("writes pgvector's text form with values rounded to single precision", () => {
    expect(vectorLiteral([1, -0.5, 0, 2e-7], 4, 'e')).toBe('[1,-0.5,0,2.00000002e-7]');
    expect(vectorLiteral(new Float32Array([0.1, 0.2]), 2, 'e')).toBe('[0.100000001,0.200000003]');
  });

  it('reads back as the same single-precision floats', () => {
    const values = new Float32Array([0.1, -1 / 3, 123.456, 1e-20]);
    const parsed = vectorLiteral(values, 4, 'e').slice(1, -1).split(',').map(Number);
    expect(new Float32Array(parsed)).toEqual(values);
  });

  it('turns subnormal values into 0', () => {
    expect(vectorLiteral([1, 1e-45], 2, 'e')).toBe('[1,0]');
  });

  it('refuses other dimensions with the dimensions code', () => {
    const error = failure(() => vectorLiteral([1, 2, 3], 4, 'The query embedding'));
    expect(error.code).toBe('dimensions');
    expect(error.message).toBe('The query embedding has 3 dimensions; this knowledge store holds 4.');
  });

  it.each([
    ['NaN', [1, Number.NaN]],
    ['Infinity', [1, Number.POSITIVE_INFINITY]],
    ['a value beyond single precision', [1, 1e39]],
    ['all zeros', [0, 0]],
  ])('refuses %s as invalid_input', (_name, values) => {
    expect(failure(() => vectorLiteral(values, 2, 'e')).code).toBe('invalid_input');
  });
});
